import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ServerError, Status } from 'nice-grpc';
import {
  type PutTaskDefRequest,
  type ReportTaskRun,
  type ScheduledTask,
  type TaskDef,
  type TaskRunId,
  TaskStatus,
  type VariableValue,
  VariableType,
  type WfSpecId,
} from 'littlehorse-client/proto';

export interface FakeAttempt {
  status: TaskStatus;
  taskWorkerId: string;
  taskWorkerVersion: string;
  scheduleTime: Date;
  startTime?: Date;
  endTime?: Date;
  output?: VariableValue;
  error?: ReportTaskRun['error'];
  exception?: ReportTaskRun['exception'];
  logOutput?: VariableValue;
  /** Every report received for this attempt, applied or ignored. */
  reports: ReportTaskRun[];
}

export interface FakeTaskRun {
  id: TaskRunId;
  key: string;
  tenant: string;
  taskDefName: string;
  status: TaskStatus;
  /** When the TaskRun was created: the time its search index is ordered by. */
  scheduledAt: Date;
  attempts: FakeAttempt[];
  timeoutSeconds: number;
  totalAttempts: number;
  variables: Record<string, VariableValue>;
  instance: number;
  wfSpecId: WfSpecId;
}

export interface ScheduleTaskOptions {
  taskDefName: string;
  variables: Record<string, VariableValue>;
  wfRunId?: string;
  parentWfRunId?: string;
  /** The WfSpec the TaskRun belongs to, as ScheduledTask.source names it. */
  wfSpecId?: WfSpecId;
  timeoutSeconds?: number;
  retries?: number;
  tenant?: string;
  instance?: number;
}

/** A hungry PollTask request parked in a queue (OneTaskQueue): delivering it answers exactly once. */
export interface Hungry {
  streamId: number;
  clientId: string;
  taskWorkerVersion: string;
  deliver: (task: ScheduledTask) => boolean;
}

interface Queue {
  pending: FakeTaskRun[];
  hungry: Hungry[];
}

const TERMINAL = new Set<TaskStatus>([
  TaskStatus.TASK_SUCCESS,
  TaskStatus.TASK_FAILED,
  TaskStatus.TASK_EXCEPTION,
  TaskStatus.TASK_TIMEOUT,
  TaskStatus.TASK_OUTPUT_SERDE_ERROR,
  TaskStatus.TASK_INPUT_VAR_SUB_ERROR,
]);
const REPORTABLE = new Set<TaskStatus>([
  TaskStatus.TASK_SUCCESS,
  TaskStatus.TASK_FAILED,
  TaskStatus.TASK_EXCEPTION,
  TaskStatus.TASK_OUTPUT_SERDE_ERROR,
  TaskStatus.TASK_INPUT_VAR_SUB_ERROR,
]);
/** LHErrorType names a business exception may not use (LHConstants.RESERVED_EXCEPTION_NAMES). */
export const RESERVED_EXCEPTION_NAMES = new Set(['CHILD_FAILURE', 'VAR_SUB_ERROR', 'VAR_MUTATION_ERROR', 'USER_TASK_CANCELLED', 'TIMEOUT', 'TASK_FAILURE', 'VAR_ERROR', 'TASK_ERROR', 'INTERNAL_ERROR']);

export const isTerminal = (status: TaskStatus) => TERMINAL.has(status);

/**
 * The server-side state the fake keeps across restarts: TaskDefs, TaskRuns with their attempts and
 * timers, one task queue per (instance, tenant, TaskDef), registered workers.
 */
export class LittleHorseState {
  readonly events = new EventEmitter();
  readonly taskDefs = new Map<string, TaskDef>();
  readonly taskRuns = new Map<string, FakeTaskRun>();
  readonly workers = new Map<string, Map<string, Date>>();
  private readonly queues = new Map<string, Queue>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private nextInstance = 0;

  constructor(public instanceCount: number) {}

  putTaskDef(tenant: string, request: PutTaskDefRequest): TaskDef {
    if (!/^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/.test(request.name)) {
      throw new ServerError(Status.INVALID_ARGUMENT, `Invalid name for TaskDef: ${request.name}`);
    }
    const inputVars = request.inputVars.map((v) => ({
      name: v.name,
      // Deprecated `type` is normalised into `typeDef` (VariableDefModel); unset means JSON_OBJ.
      typeDef: { type: v.typeDef?.type ?? v.type ?? VariableType.JSON_OBJ, masked: v.typeDef?.masked ?? v.maskedValue ?? false },
    }));
    const candidate: TaskDef = { id: { name: request.name }, inputVars, createdAt: new Date().toISOString(), returnType: request.returnType };
    const key = `${tenant}/${request.name}`;
    const existing = this.taskDefs.get(key);
    if (existing) {
      const same = JSON.stringify({ ...existing, createdAt: undefined }) === JSON.stringify({ ...candidate, createdAt: undefined });
      if (same) return existing; // PutTaskDefRequestModel: identical → OK with the stored one
      throw new ServerError(Status.ALREADY_EXISTS, `TaskDef [${request.name}] already exists and is immutable.`);
    }
    this.taskDefs.set(key, candidate);
    return candidate;
  }

  getTaskDef(tenant: string, name: string): TaskDef {
    const taskDef = this.taskDefs.get(`${tenant}/${name}`);
    if (!taskDef) throw new ServerError(Status.NOT_FOUND, `Couldn't find TaskDef ${name}`);
    return taskDef;
  }

  schedule(options: ScheduleTaskOptions): FakeTaskRun {
    const tenant = options.tenant ?? 'default';
    const wfRunId = options.wfRunId ?? randomUUID().replaceAll('-', '');
    const id: TaskRunId = {
      wfRunId: { id: wfRunId, parentWfRunId: options.parentWfRunId ? { id: options.parentWfRunId } : undefined },
      taskGuid: randomUUID().replaceAll('-', ''),
    };
    const run: FakeTaskRun = {
      id,
      key: `${wfRunId}/${id.taskGuid}`,
      tenant,
      taskDefName: options.taskDefName,
      status: TaskStatus.TASK_SCHEDULED,
      scheduledAt: new Date(),
      attempts: [],
      // TaskNodeModel: 0 or unset means 60 s.
      timeoutSeconds: options.timeoutSeconds && options.timeoutSeconds > 0 ? options.timeoutSeconds : 60,
      totalAttempts: 1 + (options.retries ?? 0),
      variables: options.variables,
      instance: options.instance ?? this.nextInstance++ % this.instanceCount,
      wfSpecId: options.wfSpecId ?? { name: 'fake-wf', majorVersion: 0, revision: 0 },
    };
    this.taskRuns.set(run.key, run);
    this.newAttempt(run);
    return run;
  }

  /** PollTaskRequestObserver.onNext: park one hungry entry, then match. */
  park(instance: number, tenant: string, taskDefName: string, hungry: Hungry): void {
    this.queue(instance, tenant, taskDefName).hungry.push(hungry);
    this.events.emit('poll-request', { taskDefName, clientId: hungry.clientId });
    this.match(instance, tenant, taskDefName);
  }

  /** Parked requests (optionally of one instance): a busy worker should have none. */
  parkedRequests(instance?: number): Hungry[] {
    return [...this.queues.entries()].filter(([key]) => instance === undefined || key.startsWith(`${instance}/`)).flatMap(([, q]) => q.hungry);
  }

  /**
   * Fault: claims the next queued task on an instance for a stream that has no request parked, as a
   * request withdrawn a moment after the server matched it would be answered anyway.
   */
  handOutUnasked(instance: number, hungry: Hungry): FakeTaskRun | undefined {
    for (const [key, queue] of this.queues) {
      if (!key.startsWith(`${instance}/`) || queue.pending.length === 0) continue;
      const run = queue.pending.shift()!;
      this.claim(run, hungry);
      return run;
    }
    return undefined;
  }

  /** OneTaskQueue.onRequestDisconnected: a closed stream's parked entries go. */
  unpark(streamId: number): void {
    for (const queue of this.queues.values()) queue.hungry = queue.hungry.filter((h) => h.streamId !== streamId);
  }

  /** A restarted instance forgets parked requests; queued tasks stay (rebuilt from the store). */
  forgetHungry(): void {
    for (const queue of this.queues.values()) queue.hungry = [];
  }

  report(tenant: string, report: ReportTaskRun): void {
    const violation = protocolViolation(report);
    if (violation) throw new ServerError(Status.INVALID_ARGUMENT, `protocol violation: ${violation}`);
    const key = `${report.taskRunId?.wfRunId?.id}/${report.taskRunId?.taskGuid}`;
    const run = this.taskRuns.get(key);
    if (!run || run.tenant !== tenant) throw new ServerError(Status.INVALID_ARGUMENT, 'Provided taskRunId was invalid');
    const attempt = run.attempts[report.attemptNumber];
    if (!attempt) throw new ServerError(Status.INVALID_ARGUMENT, 'Specified Task Attempt does not exist!');
    attempt.reports.push(report);
    this.events.emit('report', report, run);
    // TaskRunModel.onTaskAttemptResultReported: only a running attempt takes a report.
    if (attempt.status !== TaskStatus.TASK_RUNNING) return;
    this.clearTimer(run, report.attemptNumber);
    attempt.endTime = new Date(report.time ?? Date.now());
    attempt.logOutput = report.logOutput;
    let status = report.status;
    if (status === TaskStatus.TASK_SUCCESS && report.output?.jsonObj !== undefined && !parsesAsObject(report.output.jsonObj)) {
      status = TaskStatus.TASK_OUTPUT_SERDE_ERROR;
    }
    attempt.status = status;
    attempt.output = report.output;
    attempt.error = report.error;
    attempt.exception = report.exception;
    this.afterAttempt(run, status);
  }

  workersOf(taskDefName: string, inactivityMs: number): string[] {
    const group = this.workers.get(taskDefName) ?? new Map<string, Date>();
    for (const [id, seen] of group) if (Date.now() - seen.getTime() > inactivityMs) group.delete(id);
    return [...group.keys()].sort();
  }

  heartbeat(taskDefName: string, workerId: string): void {
    const group = this.workers.get(taskDefName) ?? new Map<string, Date>();
    group.set(workerId, new Date());
    this.workers.set(taskDefName, group);
  }

  clearAllTimers(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private newAttempt(run: FakeTaskRun): void {
    run.attempts.push({ status: TaskStatus.TASK_SCHEDULED, taskWorkerId: '', taskWorkerVersion: '', scheduleTime: new Date(), reports: [] });
    run.status = TaskStatus.TASK_SCHEDULED;
    this.queue(run.instance, run.tenant, run.taskDefName).pending.push(run);
    this.match(run.instance, run.tenant, run.taskDefName);
  }

  private match(instance: number, tenant: string, taskDefName: string): void {
    const queue = this.queue(instance, tenant, taskDefName);
    while (queue.pending.length > 0 && queue.hungry.length > 0) {
      const run = queue.pending.shift()!;
      const hungry = queue.hungry.shift()!;
      this.claim(run, hungry);
    }
  }

  /** TaskClaimEventModel.process: the attempt starts and its timeout timer is armed at claim time. */
  private claim(run: FakeTaskRun, hungry: Hungry): void {
    const number = run.attempts.length - 1;
    const attempt = run.attempts[number]!;
    attempt.status = TaskStatus.TASK_RUNNING;
    attempt.startTime = new Date();
    attempt.taskWorkerId = hungry.clientId;
    attempt.taskWorkerVersion = hungry.taskWorkerVersion;
    run.status = TaskStatus.TASK_RUNNING;
    this.timers.set(
      `${run.key}#${number}`,
      setTimeout(() => this.timeout(run, number), run.timeoutSeconds * 1000),
    );
    this.events.emit('claim', run, number);
    hungry.deliver(this.scheduledTask(run, number));
  }

  /** TaskRunModel: the server's own TASK_TIMEOUT report for a still-running attempt. */
  private timeout(run: FakeTaskRun, number: number): void {
    this.timers.delete(`${run.key}#${number}`);
    const attempt = run.attempts[number];
    if (!attempt || attempt.status !== TaskStatus.TASK_RUNNING) return;
    attempt.status = TaskStatus.TASK_TIMEOUT;
    attempt.endTime = new Date();
    this.afterAttempt(run, TaskStatus.TASK_TIMEOUT);
  }

  /** Only FAILED and TIMEOUT are retried, while attempts remain (TaskRunModel.shouldRetry). */
  private afterAttempt(run: FakeTaskRun, status: TaskStatus): void {
    const retryable = status === TaskStatus.TASK_FAILED || status === TaskStatus.TASK_TIMEOUT;
    if (retryable && run.attempts.length < run.totalAttempts) return this.newAttempt(run);
    run.status = status;
    this.events.emit('done', run);
  }

  private scheduledTask(run: FakeTaskRun, number: number): ScheduledTask {
    const taskDef = this.taskDefs.get(`${run.tenant}/${run.taskDefName}`);
    const names = taskDef ? taskDef.inputVars.map((v) => v.name) : Object.keys(run.variables);
    return {
      taskRunId: run.id,
      taskDefId: { name: run.taskDefName },
      attemptNumber: number,
      variables: names.map((name) => ({ varName: name, value: compact(run.variables[name]), masked: false })),
      createdAt: run.attempts[number]!.scheduleTime.toISOString(),
      source: { taskNode: { nodeRunId: { wfRunId: run.id.wfRunId, threadRunNumber: 0, position: 1 } }, wfSpecId: run.wfSpecId },
    };
  }

  private clearTimer(run: FakeTaskRun, number: number): void {
    clearTimeout(this.timers.get(`${run.key}#${number}`));
    this.timers.delete(`${run.key}#${number}`);
  }

  private queue(instance: number, tenant: string, taskDefName: string): Queue {
    const key = `${instance}/${tenant}/${taskDefName}`;
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { pending: [], hungry: [] }));
    return queue;
  }
}

/** The server re-serializes JSON values compactly (LHUtil.LH_GSON). */
function compact(value: VariableValue | undefined): VariableValue | undefined {
  if (value?.jsonObj !== undefined) return { jsonObj: JSON.stringify(JSON.parse(value.jsonObj)) };
  if (value?.jsonArr !== undefined) return { jsonArr: JSON.stringify(JSON.parse(value.jsonArr)) };
  return value;
}

function parsesAsObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** A fake is a test tool: make protocol violations loud. */
function protocolViolation(report: ReportTaskRun): string | undefined {
  if (!REPORTABLE.has(report.status)) return `status ${report.status} is not one a worker may report`;
  if (!report.time) return 'time is missing (it would be stored as 1970)';
  const set = [report.output, report.error, report.exception].filter((v) => v !== undefined).length;
  if (set > 1) return 'more than one of output / error / exception is set';
  if (report.status === TaskStatus.TASK_EXCEPTION && !report.exception) return 'TASK_EXCEPTION without an exception';
  if (report.exception && RESERVED_EXCEPTION_NAMES.has(report.exception.name)) return `exception name ${report.exception.name} is a reserved LHErrorType`;
  return undefined;
}
