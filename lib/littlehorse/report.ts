import { ClientError, Status } from 'nice-grpc';
import { LHErrorType, type ReportTaskRun, type ScheduledTask, TaskStatus } from 'littlehorse-client/proto';
import type { Outcome } from '../../functions/execute-comfyui-workflow/handler.js';
import { backoffMs, sleep } from '../backoff.js';
import type { LittleHorseClient } from './connection.js';

/** LittleHorse stores the log output with the TaskAttempt: keep it to a readable size. */
const MAX_LOG_CHARS = 32_000;

/**
 * An outcome as LittleHorse's ReportTaskRun, exactly one of output / error / exception set:
 * success → TASK_SUCCESS with the result as JSON_OBJ; validation and execution failures →
 * TASK_EXCEPTION, a business exception the WfSpec can catch by name; unavailable → TASK_FAILED,
 * which LittleHorse retries when the task node allows it.
 */
export function toReport(task: ScheduledTask, outcome: Outcome<unknown>, logLines: string[], time: Date): ReportTaskRun {
  const base = {
    taskRunId: task.taskRunId,
    attemptNumber: task.attemptNumber,
    time: time.toISOString(),
    logOutput: logLines.length > 0 ? { str: truncate(logLines.join('\n')) } : undefined,
  };
  if (outcome.ok) {
    return { ...base, status: TaskStatus.TASK_SUCCESS, output: { jsonObj: JSON.stringify(outcome.result) } };
  }
  const { failure } = outcome;
  if (failure.kind === 'unavailable') {
    return { ...base, status: TaskStatus.TASK_FAILED, error: { type: LHErrorType.TASK_FAILURE, message: failure.message } };
  }
  const details = typeof failure.details === 'object' && failure.details !== null ? failure.details : { details: failure.details };
  return {
    ...base,
    status: TaskStatus.TASK_EXCEPTION,
    exception: {
      name: failure.name,
      message: failure.message,
      content: { jsonObj: JSON.stringify({ message: failure.message, ...details, ...(outcome.promptId ? { prompt_id: outcome.promptId } : {}) }) },
    },
  };
}

/** Codes after which a retry cannot succeed. */
const FINAL = new Set([Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.PERMISSION_DENIED, Status.UNAUTHENTICATED, Status.FAILED_PRECONDITION]);

export interface DeliveryOptions {
  /** Clients to try, in order: the host that delivered the task, then the bootstrap server. */
  clients: LittleHorseClient[];
  /** Give up after this long (a report may take retries while the server restarts). */
  budgetMs: number;
  signal?: AbortSignal;
}

/**
 * Sends a report, retrying transient errors with backoff (reports are idempotent per attempt: the
 * first one LittleHorse receives for a running attempt wins). Resolves with the error when it could
 * not be delivered, so the caller can log it with its TaskRun id.
 */
export async function deliverReport(report: ReportTaskRun, options: DeliveryOptions): Promise<Error | undefined> {
  const giveUpAt = Date.now() + options.budgetMs;
  let lastError: Error = new Error('no client to report to');
  for (let attempt = 0; ; attempt++) {
    const client = options.clients[Math.min(attempt, options.clients.length - 1)];
    if (!client) return lastError;
    const remaining = giveUpAt - Date.now();
    try {
      await client.reportTask(report, { signal: AbortSignal.timeout(Math.max(1_000, Math.min(30_000, remaining))) });
      return undefined;
    } catch (error) {
      lastError = error instanceof Error ? error : new Error(String(error));
      if (error instanceof ClientError && FINAL.has(error.code)) return lastError;
    }
    const delay = backoffMs(attempt, 100, 2_000);
    if (Date.now() + delay >= giveUpAt) return lastError;
    await sleep(delay, options.signal).catch(() => undefined);
    if (options.signal?.aborted) return lastError;
  }
}

function truncate(text: string): string {
  if (text.length <= MAX_LOG_CHARS) return text;
  const half = MAX_LOG_CHARS / 2;
  return `${text.slice(0, half)}\n… (${text.length - MAX_LOG_CHARS} characters left out) …\n${text.slice(-half)}`;
}
