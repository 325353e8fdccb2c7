import type { Logger } from '@aws-lambda-powertools/logger';
import type { ScheduledTask, WfRunId } from 'littlehorse-client/proto';
import { type Failure, stoppedBy, toFailure, unavailable } from '../functions/execute-comfyui-workflow/failure.js';
import { executeComfyuiWorkflow, type Outcome, type WorkflowResult } from '../functions/execute-comfyui-workflow/handler.js';
import { idempotencyKey, promptIdentity, type TaskRunRef } from '../functions/execute-comfyui-workflow/identity.js';
import type { ComfyApi, DownloadOutput, HandlerSettings, LiveEvents } from '../functions/execute-comfyui-workflow/ports.js';
import { sleep } from './backoff.js';
import type { LittleHorseConnections } from './littlehorse/connection.js';
import type { PolledTask } from './littlehorse/poller.js';
import { deliverReport, toReport } from './littlehorse/report.js';
import { type TaskLogger, withKeys } from './logger.js';
import { readTaskValues, readWorkflowInput } from './littlehorse/task-input.js';
import type { ShutdownClock } from './shutdown-clock.js';
import { DEFAULT_TASK_TIMEOUT_SEC, type TaskTimeouts } from './littlehorse/task-timeout.js';
import { executeTemplate, type PreparedTemplateTask, prepareTemplateTask, type TemplateResult } from '../functions/templates/execute.js';
import type { ServedTemplates } from './templates/load.js';
import type { InputPlacer } from './media/input-placer.js';
import type { OutputStore } from './storage/s3-output-store.js';
import type { TaskFinished, TaskMetrics } from './metrics/task-metrics.js';
import { taskEnd, watchComfy } from './metrics/task-figures.js';

/** A task that arrives while ComfyUI is away waits this long for it, then goes back to LittleHorse to retry. */
const COMFY_RETURN_WAIT_MS = 5_000;

export interface TaskExecutionDeps {
  connections: LittleHorseConnections;
  comfy: ComfyApi;
  live?: LiveEvents;
  download?: DownloadOutput;
  store?: OutputStore;
  inputs?: InputPlacer;
  logger: Logger;
  settings: HandlerSettings;
  timeoutMarginMs: number;
  /** Resolves once ComfyUI answers (at once when it is healthy); the task waits for it within its deadline. */
  comfyReady: (signal: AbortSignal) => Promise<void>;
  /** Bounds cleanup and the report once the worker is stopping. */
  shutdown: ShutdownClock;
  /** Each task's TaskRun timeout, learnt once per WfSpec version where it can be. */
  timeouts: TaskTimeouts;
  metrics: TaskMetrics;
  /** Templates by TaskDef name: a task of one of these is a template task; any other is a raw workflow. */
  templates: ServedTemplates;
}

/** A raw workflow's result, or a template's (its outputs by name). */
export type TaskOutcome = Outcome<WorkflowResult | TemplateResult>;

export interface RunningTask {
  /** Abort it to stop the work now (the reason becomes the TASK_FAILED message). */
  controller: AbortController;
  /** The outcome, once ComfyUI is done with the task: from then on the worker may take the next one. */
  outcome: Promise<TaskOutcome>;
  /** Whether LittleHorse received the report (it is delivered beside the next task's start). */
  reported: Promise<boolean>;
}

/**
 * One ScheduledTask from claim to report: a deadline that agrees with LittleHorse's TaskRun timeout,
 * the pure handler with its I/O passed in, and a report that is always sent.
 */
export function executeTask(polled: PolledTask, deps: TaskExecutionDeps): RunningTask {
  const controller = new AbortController();
  const worked = work(polled, deps, controller);
  return { controller, outcome: worked.then((w) => w.outcome), reported: worked.then((w) => report(polled, deps, w)) };
}

interface Worked {
  outcome: TaskOutcome;
  lines: string[];
  logger: TaskLogger;
  /** LittleHorse's window for this attempt (ms from the claim). */
  windowMs: number;
  figures: Omit<TaskFinished, 'end' | 'delivered'>;
}

async function work(polled: PolledTask, deps: TaskExecutionDeps, controller: AbortController): Promise<Worked> {
  const { task } = polled;
  const wfRunIds = wfRunChain(task.taskRunId?.wfRunId);
  const ref = {
    wfRunId: wfRunIds.at(-1) ?? '',
    parentWfRunIds: wfRunIds.slice(0, -1),
    taskGuid: task.taskRunId?.taskGuid ?? '',
    attemptNumber: task.attemptNumber,
  };
  const taskKeys = { wfRunId: wfRunIds.join('_'), taskGuid: ref.taskGuid };
  const taskRunId = `${ref.wfRunId}/${ref.taskGuid}`;
  const logger = withKeys(deps.logger, { taskRunId, wfRunId: ref.wfRunId, attempt: ref.attemptNumber });
  const lines: string[] = [];
  const log = (line: string) => lines.push(`${new Date().toISOString()} ${line}`);
  logger.info('task received', { event: 'task-received', address: polled.address });

  const deadline = taskDeadline(polled, deps, logger, controller);
  const watched = watchComfy(deps.comfy, deps.live);

  let outcome: TaskOutcome;
  try {
    const input = readInput(task, deps.templates, ref);
    if (!input.ok) {
      log(`invalid input: ${input.failure.message}`);
      outcome = { ok: false, failure: input.failure };
    } else {
      await deps.comfyReady(AbortSignal.any([controller.signal, AbortSignal.timeout(COMFY_RETURN_WAIT_MS)])).catch((error: unknown) => {
        if (controller.signal.aborted) throw error;
        throw new ComfyNotBack(`ComfyUI is not answering (GET /system_stats) and did not come back within ${COMFY_RETURN_WAIT_MS / 1000} s; LittleHorse may retry the task on another worker.`);
      });
      const handlerDeps = {
        comfy: watched.comfy,
        live: deps.live,
        download: deps.download,
        store: deps.store?.forTask(taskKeys),
        placeInput: deps.inputs?.forTask(taskKeys),
        log,
        logger,
        clock: { now: Date.now, sleep },
        signal: controller.signal,
        settings: deps.settings,
        identity: promptIdentity(ref),
        cleanupBudgetMs: (usualMs: number) => deps.shutdown.cleanupBudgetMs(usualMs),
      };
      outcome = input.template ? await executeTemplate(input.template, handlerDeps) : await executeComfyuiWorkflow(input.workflow, handlerDeps);
    }
  } catch (error) {
    // The handler returns failures as values; this catches the wait for ComfyUI and true bugs.
    outcome = { ok: false, failure: caughtFailure(error, controller.signal) };
    log(`workflow failed: ${outcome.failure.message}`);
  } finally {
    deadline.clear();
  }

  if (!outcome.ok && outcome.failure.kind === 'unavailable' && outcome.failure.cause !== undefined) {
    // A bug: its stack and cause go to the worker's log, never to the task's output.
    const { cause } = outcome.failure;
    logger.error('unexpected error while running the task', { error: cause instanceof Error ? cause : new Error(String(cause)) });
  }
  const figures = { taskRunId, runTimeMs: Date.now() - polled.receivedAt, ...watched.figures(polled.receivedAt) };
  return { outcome, lines, logger, windowMs: deadline.windowMs(), figures };
}

/** Delivers the task's report; resolves false when LittleHorse never received it. */
async function report(polled: PolledTask, deps: TaskExecutionDeps, { outcome, lines, logger, windowMs, figures }: Worked): Promise<boolean> {
  const report = toReport(polled.task, outcome, lines, new Date());
  // A report is worth delivering until LittleHorse's own timeout would make it moot.
  // A shutdown leaves less: the report must land inside the platform's stop window.
  const budgetMs = Math.min(Math.max(1_000, polled.receivedAt + windowMs - Date.now()), deps.shutdown.reportBudgetMs());
  const undelivered = await deliverReport(report, { clients: deps.connections.reportClients(polled.address), budgetMs });
  deps.metrics.taskFinished({ ...figures, end: taskEnd(report), delivered: !undelivered });
  const fields = { status: report.status, promptId: outcome.ok ? outcome.result.prompt_id : outcome.promptId };
  if (undelivered) {
    logger.error('report could not be delivered to LittleHorse', { event: 'report-undelivered', ...fields, error: undelivered.message });
  } else if (outcome.ok) {
    const { outputs } = outcome.result;
    logger.info('task reported', { event: 'task-reported', ...fields, outputs: Array.isArray(outputs) ? outputs.length : Object.values(outputs).flat().length });
  } else {
    // Not `message`: Powertools reserves that key and would drop the reason.
    logger.warn('task reported', { event: 'task-reported', ...fields, failure: outcome.failure.kind, reason: outcome.failure.message });
  }
  return !undelivered;
}

type TaskInput =
  | { ok: true; workflow: unknown; template?: undefined }
  | { ok: true; template: PreparedTemplateTask }
  | { ok: false; failure: Failure };

/** The task's input, checked before anything waits for ComfyUI: a template's typed inputs, or a raw workflow. */
function readInput(task: ScheduledTask, templates: ServedTemplates, ref: TaskRunRef): TaskInput {
  const template = templates.get(task.taskDefId?.name ?? '');
  if (template) {
    const prepared = prepareTemplateTask(template, readTaskValues(task), idempotencyKey(ref));
    return prepared.ok ? { ok: true, template: prepared.task } : prepared;
  }
  const raw = readWorkflowInput(task);
  return raw.ok ? raw : { ok: false, failure: { kind: 'validation', name: 'comfyui-invalid-workflow', message: raw.problem, details: {} } };
}

/** A throw that reached the task's edge: the stop reason when the task was stopped, else its Failure. */
function caughtFailure(error: unknown, signal: AbortSignal) {
  if (signal.aborted) return stoppedBy(signal.reason);
  if (error instanceof ComfyNotBack) return unavailable(error.message);
  return toFailure(error);
}

/** The task waited for ComfyUI to answer again, in vain. */
class ComfyNotBack extends Error {}

/**
 * Aborts the task a margin before LittleHorse's TaskRun timeout, after which a report is ignored.
 * The timeout is learnt (TaskTimeouts) beside the ComfyUI work, once the prompt is on its way, not
 * before it: it would be a round trip on the critical path of every task, and the deadline counts
 * from the claim anyway.
 */
function taskDeadline(polled: PolledTask, deps: TaskExecutionDeps, logger: TaskLogger, controller: AbortController) {
  let windowMs: number | undefined;
  let cleared = false;
  let timer: NodeJS.Timeout | undefined;
  setImmediate(async () => {
    if (cleared) return; // finished already (bad input, ComfyUI away): no deadline to set
    const timeoutSec = await deps.timeouts.secondsFor(polled.task, AbortSignal.timeout(5_000));
    windowMs = timeoutSec * 1000;
    if (cleared) return;
    const deadlineAt = polled.receivedAt + Math.max(windowMs - deps.timeoutMarginMs, windowMs / 2);
    const reason = new Error(
      `Stopped before LittleHorse's TaskRun timeout (${timeoutSec} s from claim; the task node's timeoutSeconds, ${DEFAULT_TASK_TIMEOUT_SEC} s when unset), ` +
        `after which LittleHorse would ignore the report. Raise the task node's timeout in the WfSpec for longer workflows.`,
    );
    timer = setTimeout(() => controller.abort(reason), Math.max(0, deadlineAt - Date.now()));
  });
  return {
    /** LittleHorse's window for this attempt, its default until GetTaskRun has answered. */
    windowMs: () => windowMs ?? DEFAULT_TASK_TIMEOUT_SEC * 1000,
    clear: () => {
      cleared = true;
      clearTimeout(timer);
    },
  };
}

/** The WfRunId chain, outermost parent first. */
function wfRunChain(id: WfRunId | undefined): string[] {
  const chain: string[] = [];
  for (let current = id; current; current = current.parentWfRunId) chain.unshift(current.id);
  return chain;
}
