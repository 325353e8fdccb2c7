import type { Logger } from '@aws-lambda-powertools/logger';
import { ClientError } from 'nice-grpc';
import { TaskStatus, LHErrorType } from 'littlehorse-client/proto';
import type { Config } from './config.js';
import { ExitCode } from './exit-codes.js';
import type { ComfyClient } from './comfyui/client.js';
import type { LiveSocket } from './comfyui/live-socket.js';
import type { DownloadOutput } from '../functions/execute-comfyui-workflow/ports.js';
import { waitUntilReady } from './comfyui/readiness.js';
import { backoffMs, sleep } from './backoff.js';
import type { LittleHorseConnections } from './littlehorse/connection.js';
import { type PolledTask, TaskPoller } from './littlehorse/poller.js';
import { deliverReport } from './littlehorse/report.js';
import { ensureTaskDef, TaskDefMismatch } from './littlehorse/task-def.js';
import type { InputPlacer } from './media/input-placer.js';
import type { OutputStore } from './storage/s3-output-store.js';
import { executeTask, type RunningTask } from './task-execution.js';
import { ShutdownClock } from './shutdown-clock.js';
import { TaskTimeouts } from './littlehorse/task-timeout.js';
import { ComfyHealth } from './comfyui/health.js';
import { checkTemplatesOnComfy } from './templates/check-on-comfy.js';
import type { ServedTemplates } from './templates/load.js';
import { ensureTemplateTaskDefs } from './templates/task-defs.js';

export interface RunnerDeps {
  config: Config;
  connections: LittleHorseConnections;
  comfy: ComfyClient;
  live?: LiveSocket;
  download?: DownloadOutput;
  store?: OutputStore;
  inputs?: InputPlacer;
  logger: Logger;
  /** Read from COMFYUI_TEMPLATES_DIR at start; checked against ComfyUI before any task is taken. */
  templates: ServedTemplates;
}

/** How long start-up keeps retrying LittleHorse before giving up with exit code 3. */
const LITTLEHORSE_START_BUDGET_MS = 30_000;

/**
 * The long-poll runner: waits for ComfyUI, makes sure the TaskDef exists, polls LittleHorse, runs one
 * task at a time through the handler and reports each one. The same code is the long-lived service and
 * the scheduled job that drains the queue and exits; `stop()` is the graceful shutdown both share.
 */
export class Runner {
  private readonly inbox: PolledTask[] = [];
  private readonly stopController = new AbortController();
  private wakeUp: () => void = () => {};
  private current: RunningTask | undefined;
  private poller: TaskPoller | undefined;
  private health: ComfyHealth | undefined;
  private pollerStopped: Promise<void> = Promise.resolve();
  private readonly shutdownClock: ShutdownClock;
  private readonly timeouts: TaskTimeouts;
  private tasksDone = 0;
  /** The templates as checked against this ComfyUI (input bounds narrowed to its own). */
  private templates: ServedTemplates = new Map();
  /** Reports LittleHorse never received: the exit code must not claim every task was reported. */
  private undelivered = 0;
  private crashed = false;
  /** Reports still being delivered: finished tasks' and surplus tasks' (handed back TASK_FAILED). */
  private readonly reporting = new Set<Promise<void>>();

  constructor(private readonly deps: RunnerDeps) {
    this.shutdownClock = new ShutdownClock(deps.config.worker.shutdownGraceMs);
    this.timeouts = new TaskTimeouts(() => deps.connections.bootstrap(), deps.logger);
  }

  get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  async run(): Promise<ExitCode> {
    const { config, comfy, logger, live } = this.deps;
    const startedAt = Date.now();
    const ready = await waitUntilReady({
      probe: (signal) => comfy.systemStats(signal, { retries: 0 }),
      timeoutMs: config.comfy.startTimeoutMs,
      logger,
      what: `ComfyUI at ${config.comfy.baseUrl} (GET /system_stats)`,
      signal: this.stopController.signal,
    });
    if (this.stopping) return ExitCode.OK;
    if (!ready) {
      logger.error(`ComfyUI at ${config.comfy.baseUrl} did not answer within COMFYUI_START_TIMEOUT_SEC=${config.comfy.startTimeoutMs / 1000}`);
      return ExitCode.COMFYUI_NOT_READY;
    }
    const checked = await checkTemplatesOnComfy(this.deps.templates, comfy, this.stopController.signal).catch((error: unknown) => error as Error);
    if (this.stopping) return ExitCode.OK;
    if (checked instanceof Error) {
      logger.error(`could not read ComfyUI's node catalogue (GET /object_info) to check the templates: ${checked.message}`);
      return ExitCode.COMFYUI_NOT_READY;
    }
    if (!checked.ok) {
      for (const problem of checked.problems) logger.error(problem);
      return ExitCode.TEMPLATE_REFUSED;
    }
    this.templates = checked.templates;
    live?.start();
    this.health = new ComfyHealth({ comfy, live, logger, onChange: () => this.updateWanting() });

    const registered = await this.connectToLittleHorse();
    if (registered !== ExitCode.OK) return registered;
    this.warnAboutTimeouts();
    if (config.worker.maxRuntimeMs !== undefined) this.scheduleRuntimeBudget(startedAt, config.worker.maxRuntimeMs);
    logger.info('worker ready', { taskName: config.worker.taskName, templates: [...this.templates.keys()], mode: config.worker.runMode, hosts: this.poller?.hostCount, startupMs: Date.now() - startedAt });

    let lastActivity = Date.now();
    while (!this.stopping) {
      this.updateWanting();
      const task = this.inbox.shift() ?? (await this.nextTask(lastActivity));
      if (!task) continue;
      this.current = executeTask(task, {
        connections: this.deps.connections,
        comfy,
        live,
        download: this.deps.download,
        store: this.deps.store,
        inputs: this.deps.inputs,
        logger,
        settings: {
          outputDir: config.comfy.outputDir,
          pollIntervalMs: config.comfy.pollIntervalMs,
          historyTimeoutMs: config.comfy.historyTimeoutMs,
          watchdogIntervalMs: config.comfy.watchdogIntervalMs,
          includeTempOutputs: config.comfy.includeTempOutputs,
        },
        timeoutMarginMs: config.worker.timeoutMarginMs,
        comfyReady: (signal) => this.health!.ready(signal),
        shutdown: this.shutdownClock,
        templates: this.templates,
        timeouts: this.timeouts,
      });
      // ComfyUI is free once the outcome is known: the report goes out beside the next task's start.
      this.trackReport(this.current.reported);
      const outcome = await this.current.outcome;
      this.current = undefined;
      if (!outcome.ok && outcome.failure.kind === 'unavailable') this.health.check();
      this.tasksDone++;
      lastActivity = Date.now();
      if (config.worker.maxTasks > 0 && this.tasksDone >= config.worker.maxTasks) this.stop(`LHW_MAX_TASKS=${config.worker.maxTasks} reached`);
    }
    await this.shutdown();
    if (this.crashed) return ExitCode.CRASH;
    if (this.undelivered > 0) {
      logger.error('exiting with reports LittleHorse never received', { undeliveredReports: this.undelivered });
      return ExitCode.REPORT_UNDELIVERED;
    }
    return ExitCode.OK;
  }

  /**
   * Graceful stop: no new work at once (not one more PollTaskRequest); the task in hand gets
   * LHW_SHUTDOWN_GRACE_SEC, then is stopped on ComfyUI and reported, all within one deadline
   * (see ShutdownClock).
   */
  stop(reason: string): void {
    if (this.stopping) return;
    this.deps.logger.info('stopping', { reason, taskInHand: this.current !== undefined });
    this.shutdownClock.start();
    this.stopController.abort(new Error(reason));
    this.pollerStopped = this.poller?.stop() ?? Promise.resolve();
    this.wakeUp();
    const current = this.current;
    if (!current) return;
    const grace = this.deps.config.worker.shutdownGraceMs;
    setTimeout(
      () => current.controller.abort(new Error(`Worker shutting down (${reason}): the task did not finish within LHW_SHUTDOWN_GRACE_SEC=${grace / 1000}; LittleHorse may retry it elsewhere.`)),
      grace,
    ).unref();
  }

  /**
   * An error nothing caught (a throw in a socket listener, a rejected promise nobody awaited): the
   * process cannot be trusted to go on, so the task in hand is stopped now and reported, then run()
   * ends with exit code 1.
   */
  crash(error: unknown): void {
    this.crashed = true;
    const detail = error instanceof Error ? error.message : String(error);
    this.stop(`unexpected error in the worker: ${detail}`);
    this.current?.controller.abort(new Error(`The worker hit an unexpected error (${detail}) and stopped this task; LittleHorse may retry it elsewhere.`));
  }

  private async connectToLittleHorse(): Promise<ExitCode> {
    const { config, connections, logger } = this.deps;
    const giveUpAt = Date.now() + LITTLEHORSE_START_BUDGET_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await ensureTaskDef(connections.bootstrap(), config.worker.taskName, this.stopController.signal);
        await ensureTemplateTaskDefs(connections.bootstrap(), this.templates, this.stopController.signal);
        this.poller = new TaskPoller({
          connections,
          taskNames: [config.worker.taskName, ...this.templates.keys()],
          maxReceiveMessageLength: config.littlehorse.maxReceiveMessageLength,
          workerId: config.worker.workerId,
          workerVersion: config.worker.workerVersion,
          logger,
          onTask: (task) => this.onTask(task),
        });
        await this.poller.start();
        return ExitCode.OK;
      } catch (error) {
        if (this.stopping) return ExitCode.OK;
        if (error instanceof TaskDefMismatch) {
          logger.error(error.message);
          return ExitCode.TASKDEF_MISMATCH;
        }
        const message = error instanceof ClientError ? `${error.code}: ${error.details}` : (error as Error).message;
        if (Date.now() >= giveUpAt) {
          logger.error(`could not reach LittleHorse at ${connections.bootstrapAddress}: ${message}; check LHC_API_HOST, LHC_API_PORT, LHC_API_PROTOCOL and credentials`);
          return ExitCode.LITTLEHORSE_UNREACHABLE;
        }
        logger.warn('LittleHorse not reachable yet; retrying', { address: connections.bootstrapAddress, error: message });
        await sleep(backoffMs(attempt, 200, 3_000), this.stopController.signal).catch(() => undefined);
      }
    }
  }

  /** Waits for a task; in job mode gives up (and stops) once none has come for LHW_IDLE_EXIT_SEC. */
  private async nextTask(lastActivity: number): Promise<PolledTask | undefined> {
    const { worker } = this.deps.config;
    const idleLeft = worker.runMode === 'job' ? lastActivity + worker.idleExitMs - Date.now() : Infinity;
    if (idleLeft <= 0 && !this.current) {
      this.stop(`no task for LHW_IDLE_EXIT_SEC=${worker.idleExitMs / 1000}`);
      return undefined;
    }
    await new Promise<void>((resolve) => {
      this.wakeUp = resolve;
      if (Number.isFinite(idleLeft)) setTimeout(resolve, idleLeft).unref();
    });
    return this.inbox.shift();
  }

  /**
   * The one place that decides whether to ask LittleHorse for work: not stopping, no task in hand or
   * waiting, and ComfyUI answering. The poller withdraws a parked request when this turns false.
   */
  private updateWanting(): void {
    const wanting = !this.stopping && !this.current && this.inbox.length === 0 && (this.health?.healthy ?? true);
    this.poller?.want(wanting);
  }

  private onTask(task: PolledTask): void {
    // With one request outstanding this only happens when a withdrawn request was answered anyway.
    if (this.current || this.inbox.length > 0) return this.turnAway(task);
    this.inbox.push(task);
    this.updateWanting();
    this.wakeUp();
  }

  /** A task that came while another is in hand is handed back at once, so it never times out here. */
  private turnAway(polled: PolledTask): void {
    const { task, address } = polled;
    this.deps.logger.warn('task arrived while another is in hand; reporting it TASK_FAILED so LittleHorse retries it elsewhere', {
      taskRunId: `${task.taskRunId?.wfRunId?.id}/${task.taskRunId?.taskGuid}`,
      address,
    });
    const reason = this.stopping
      ? `Worker stopped before starting this task (${this.stopReason()}); LittleHorse may retry it elsewhere.`
      : 'This worker was already running another task when LittleHorse handed it this one (a poll request answered after it was withdrawn); LittleHorse may retry it elsewhere.';
    this.trackReport(this.reportNotStarted(polled, reason));
  }

  private trackReport(delivered: Promise<boolean>): void {
    const settled: Promise<void> = delivered.then((ok) => {
      if (!ok) this.undelivered++;
      this.reporting.delete(settled);
    });
    this.reporting.add(settled);
  }

  private async reportNotStarted({ task, address }: PolledTask, message: string): Promise<boolean> {
    const undelivered = await deliverReport(
      {
        taskRunId: task.taskRunId,
        attemptNumber: task.attemptNumber,
        time: new Date().toISOString(),
        status: TaskStatus.TASK_FAILED,
        error: { type: LHErrorType.TASK_FAILURE, message },
      },
      { clients: this.deps.connections.reportClients(address), budgetMs: this.stopping ? this.shutdownClock.reportBudgetMs() : 5_000 },
    );
    if (undelivered) this.deps.logger.error('report could not be delivered', { taskRunId: task.taskRunId, error: undelivered.message });
    return !undelivered;
  }

  private stopReason(): string {
    return String((this.stopController.signal.reason as Error | undefined)?.message ?? 'stopping');
  }

  /** Job mode: stop taking work early enough to finish (or stop) and report the task in hand. */
  private scheduleRuntimeBudget(startedAt: number, maxRuntimeMs: number): void {
    const stopAt = startedAt + maxRuntimeMs - this.deps.config.worker.shutdownGraceMs - 2_000;
    setTimeout(() => this.stop(`LHW_MAX_RUNTIME_SEC=${maxRuntimeMs / 1000} nearly used`), Math.max(0, stopAt - Date.now())).unref();
  }

  private warnAboutTimeouts(): void {
    const { comfy } = this.deps.config;
    if (comfy.historyTimeoutMs > 60_000) {
      this.deps.logger.warn(
        `COMFYUI_HISTORY_TIMEOUT_SEC=${comfy.historyTimeoutMs / 1000} is longer than LittleHorse's default TaskRun timeout (60 s): ` +
          'each task stops at whichever comes first, so set timeoutSeconds on the WfSpec task node for workflows longer than a minute.',
      );
    }
  }

  /** Tasks taken but never started (a withdrawn request answered late) are reported, never dropped. */
  private async shutdown(): Promise<void> {
    await this.pollerStopped;
    const reason = `Worker stopped before starting this task (${this.stopReason()}); LittleHorse may retry it elsewhere.`;
    for (const task of this.inbox.splice(0)) this.trackReport(this.reportNotStarted(task, reason));
    await Promise.all(this.reporting);
    this.health?.close();
    this.deps.live?.close();
  }
}
