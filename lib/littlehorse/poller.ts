import type { PollTaskRequest, ScheduledTask } from 'littlehorse-client/proto';
import type { StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import { backoffMs } from '../backoff.js';
import type { LittleHorseConnections } from './connection.js';
import { describePollError } from './stream-errors.js';

export interface PolledTask {
  task: ScheduledTask;
  /** The TaskDef it was polled for. */
  taskName: string;
  /** The host that delivered it: reports go there first. */
  address: string;
  receivedAt: number;
}

export interface PollerOptions {
  connections: LittleHorseConnections;
  taskNames: string[];
  workerId: string;
  workerVersion: string;
  logger: StructuredLog & { error(message: string, ...extra: Record<string, unknown>[]): void };
  /** LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH, named when a task is too big to receive. */
  maxReceiveMessageLength: number;
  onTask: (task: PolledTask) => void;
  /** RegisterTaskWorker period: 5 s is inside every server version's inactivity window (15 s before v0.16). */
  heartbeatMs?: number;
  /** With several streams (hosts × TaskDefs), how long the one request stays parked on one before it moves on. */
  rotateMs?: number;
  /** After a request is withdrawn, how long its stream may still deliver a task the server had already claimed. */
  drainMs?: number;
}

/** How soon to heartbeat again after a rebalance answer or a failed heartbeat. */
const SOON_AFTER_TROUBLE_MS = 1_000;
/**
 * With several streams, how long the one request stays parked on each (LHW_POLL_ROTATE_MS). A worker
 * serving N streams picks up an idle stream's task within about N × (rotate + DRAIN_MS); a fleet
 * covers them in parallel. Shorter means more PollTask requests per idle second.
 */
const ROTATE_MS = 500;
/**
 * After a half-close, how long a task the server had already claimed may take to arrive. Claims are
 * answered once recorded (CommandSender.tryToClaimTaskAndReturnToClient, ≥ 0.15), in milliseconds.
 */
const DRAIN_MS = 200;
/** After an empty answer (the task was claimed elsewhere, server ≥ 0.15), ask again this much later. */
const AFTER_EMPTY_ANSWER_MS = 50;

/**
 * LittleHorse's long-poll protocol: a RegisterTaskWorker heartbeat per TaskDef says which hosts to
 * poll, and there is one PollTask stream per (TaskDef, host). Each PollTaskRequest is a claim on at
 * most one task, and the server parks it with no timeout (OneTaskQueue), so flow control is ours:
 *
 * - one permit: at most one request is outstanding across every stream, and only while the runner
 *   wants work (`want(true)`); a task arriving consumes the permit before anything else runs, so
 *   no stream ever asks again on stale state;
 * - a parked request is withdrawn by half-closing its stream (PollTaskRequestObserver.onCompleted
 *   drops the stream's parked entries but keeps the response side open), then the stream drains
 *   for `drainMs`: a task the server had already claimed still arrives and is handed over;
 * - with several streams the one request rotates among them, `rotateMs` on each, so every host and
 *   every TaskDef is served.
 */
export class TaskPoller {
  private readonly streams = new Map<string, PollStream>();
  private wanted = false;
  private stopped = false;
  /** The stream whose request holds the permit: parked on the server, or withdrawn and draining. */
  private holder: PollStream | undefined;
  private rotateTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private cursor = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private released: () => void = () => {};

  constructor(private readonly options: PollerOptions) {}

  /** Registers each TaskDef once (rejects if LittleHorse refuses), then keeps the heartbeat going. */
  async start(): Promise<void> {
    this.heartbeatAfter(await this.heartbeatAll());
  }

  /** The runner's one say on flow control: ask for one task (true), or withdraw the request (false). */
  want(wanted: boolean): void {
    if (this.stopped) return;
    if (wanted === this.wanted) return;
    this.wanted = wanted;
    if (wanted) this.dispatch();
    else this.holder?.withdraw();
  }

  get hostCount(): number {
    return new Set([...this.streams.values()].map((s) => s.address)).size;
  }

  /**
   * Sends no request from now on; a parked one is withdrawn and its stream drained (a task that
   * arrives meanwhile is still handed over), then every stream is closed.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wanted = false;
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.rotateTimer);
    this.rotateTimer = undefined;
    clearTimeout(this.retryTimer);
    if (this.holder) {
      const released = new Promise<void>((resolve) => (this.released = resolve));
      this.holder.withdraw();
      // The drain ends the wait; the bound only guards against a stream that had nothing to drain.
      const drainMs = this.options.drainMs ?? DRAIN_MS;
      await Promise.race([released, new Promise((resolve) => setTimeout(resolve, drainMs + 100).unref())]);
    }
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
  }

  /** Gives the permit to the next stream that can take it, if the runner wants work. */
  private dispatch(): void {
    clearTimeout(this.retryTimer);
    if (!this.wanted || this.holder || this.stopped) return;
    const streams = [...this.streams.values()];
    for (let i = 0; i < streams.length; i++) {
      const stream = streams[(this.cursor + i) % streams.length]!;
      if (!stream.canAsk) continue;
      // The stream after this one is next, unless this one delivers a task (see onRelease).
      this.cursor = (this.cursor + i + 1) % streams.length;
      this.holder = stream;
      stream.ask();
      this.armRotation();
      return;
    }
    // No stream can ask now (all reconnecting): one that recovers calls dispatch again.
  }

  /** With several streams, the parked request moves on after rotateMs (also once a second stream appears). */
  private armRotation(): void {
    const holder = this.holder;
    if (!holder || this.rotateTimer || this.streams.size < 2) return;
    this.rotateTimer = setTimeout(() => {
      this.rotateTimer = undefined;
      holder.withdraw();
    }, this.options.rotateMs ?? ROTATE_MS);
  }

  /** A stream's request was answered, withdrawn and drained, or lost with the stream. */
  private onRelease(stream: PollStream, answer: 'task' | 'empty' | 'gone'): void {
    if (stream !== this.holder) return;
    this.holder = undefined;
    clearTimeout(this.rotateTimer);
    this.rotateTimer = undefined;
    if (answer === 'task') {
      this.wanted = false; // consumed before the runner hears of the task
      // Tasks of one TaskDef tend to come in bursts: ask the stream that just delivered first next time.
      this.cursor = Math.max(0, [...this.streams.values()].indexOf(stream));
    }
    this.released();
    if (answer === 'empty') this.retryTimer = setTimeout(() => this.dispatch(), AFTER_EMPTY_ANSWER_MS);
    else this.dispatch();
  }

  private heartbeatAfter(healthy: boolean): void {
    if (this.stopped) return;
    this.heartbeatTimer = setTimeout(
      async () => {
        try {
          this.heartbeatAfter(await this.heartbeatAll());
        } catch (error) {
          // Keep the streams we have: a failed heartbeat is usually a rebalance or a restart.
          this.options.logger.warn('RegisterTaskWorker failed; keeping current streams', { error: (error as Error).message });
          this.heartbeatAfter(false);
        }
      },
      healthy ? (this.options.heartbeatMs ?? 5_000) : SOON_AFTER_TROUBLE_MS,
    );
    this.heartbeatTimer.unref();
  }

  private async heartbeatAll(): Promise<boolean> {
    const results = await Promise.all(this.options.taskNames.map((name) => this.heartbeat(name)));
    return results.every(Boolean);
  }

  /** Resolves false when LittleHorse said it is rebalancing: the streams stay as they are. */
  private async heartbeat(taskName: string): Promise<boolean> {
    const reply = await this.options.connections.bootstrap().registerTaskWorker(
      { taskWorkerId: this.options.workerId, taskDefId: { name: taskName } },
      { signal: AbortSignal.timeout(10_000) },
    );
    if (this.stopped) return true;
    // During a rebalance the server may answer OK with no hosts (ClusterHealthRequestObserver): keep ours.
    if (reply.yourHosts.length === 0 || reply.isClusterHealthy === false) {
      this.options.logger.warn('LittleHorse is rebalancing; keeping current streams', { event: 'rebalancing', taskName, hosts: reply.yourHosts.length });
      return false;
    }
    const wanted = new Set(reply.yourHosts.map((h) => `${h.host}:${h.port}`));
    for (const [key, stream] of this.streams) {
      if (stream.taskName !== taskName || wanted.has(stream.address)) continue;
      this.streams.delete(key);
      stream.retire(() => {
        if (![...this.streams.values()].some((s) => s.address === stream.address)) this.options.connections.release(stream.address);
      });
      this.options.logger.info('stopped polling a host LittleHorse no longer assigns', { event: 'host-dropped', taskName, address: stream.address });
    }
    for (const address of wanted) {
      const key = `${taskName} ${address}`;
      if (this.streams.has(key)) continue;
      this.streams.set(key, new PollStream(taskName, address, this.options, (stream, answer) => this.onRelease(stream, answer), () => this.dispatch()));
      this.options.logger.info('polling LittleHorse host', { event: 'host-added', taskName, address });
    }
    this.dispatch();
    this.armRotation();
    return true;
  }
}

/**
 * One PollTask call to one host for one TaskDef, opened when it is first asked and kept for the next
 * request; half-closed to withdraw a parked request; reopened with jittered backoff when it breaks.
 */
class PollStream {
  private call: AbortController | undefined;
  /** A request is waiting to be written on the open call. */
  private pendingRequest = false;
  /** The request on this stream holds the poller's permit. */
  private holding = false;
  private draining = false;
  private failures = 0;
  private backingOff = false;
  private retired = false;
  private onRetired: (() => void) | undefined;
  private wakeRequests: () => void = () => {};
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly taskName: string,
    readonly address: string,
    private readonly options: PollerOptions,
    private readonly release: (stream: PollStream, answer: 'task' | 'empty' | 'gone') => void,
    private readonly recovered: () => void,
  ) {}

  get canAsk(): boolean {
    return !this.backingOff && !this.retired && !this.draining;
  }

  /** Sends one PollTaskRequest: the caller holds the permit for it. */
  ask(): void {
    this.holding = true;
    this.pendingRequest = true;
    if (!this.call) this.open();
    else this.wakeRequests();
  }

  /** Takes back a parked request: half-close, then drain for a task already on its way, then close. */
  withdraw(): void {
    if (!this.holding || this.draining || !this.call) return;
    this.draining = true;
    this.pendingRequest = false;
    this.wakeRequests(); // ends the request iterable: nice-grpc half-closes the call
    this.drainTimer = setTimeout(() => this.endCall('gone'), this.options.drainMs ?? DRAIN_MS);
  }

  /** Stops for good once any request it holds is withdrawn and drained. */
  retire(onRetired: () => void): void {
    this.retired = true;
    this.onRetired = onRetired;
    if (this.holding) this.withdraw();
    else this.close();
  }

  close(): void {
    this.retired = true;
    clearTimeout(this.drainTimer);
    this.call?.abort();
    this.call = undefined;
    this.onRetired?.();
    this.onRetired = undefined;
  }

  private open(): void {
    const call = new AbortController();
    this.call = call;
    this.draining = false;
    void this.read(call);
  }

  private async read(call: AbortController): Promise<void> {
    try {
      const client = this.options.connections.client(this.address);
      for await (const response of client.pollTask(this.requests(call.signal), { signal: call.signal })) {
        this.failures = 0;
        if (response.result) {
          const task: PolledTask = { task: response.result, taskName: this.taskName, address: this.address, receivedAt: Date.now() };
          // The permit goes first, so nothing can ask again before the runner has the task.
          this.answered('task');
          this.options.onTask(task);
        } else {
          this.answered('empty');
        }
      }
      // The server never ends a PollTask stream on its own (PollTaskRequestObserver): treat it as broken.
      if (call === this.call) this.broken(new Error('PollTask stream ended by the server'));
    } catch (error) {
      if (call.signal.aborted || call !== this.call) return;
      this.broken(error as Error);
    }
  }

  private async *requests(signal: AbortSignal): AsyncGenerator<PollTaskRequest> {
    let wake = () => {};
    // One listener for the call's life, so an aborted call never leaves this generator suspended.
    const onAbort = () => wake();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted && !this.draining) {
        if (this.pendingRequest) {
          this.pendingRequest = false;
          yield { taskDefId: { name: this.taskName }, clientId: this.options.workerId, taskWorkerVersion: this.options.workerVersion };
          continue;
        }
        await new Promise<void>((resolve) => (wake = this.wakeRequests = resolve));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** The one request on this call got its answer. */
  private answered(answer: 'task' | 'empty'): void {
    if (!this.holding) return; // cannot happen with one request per permit; nothing to release
    this.holding = false;
    // A half-closed call can carry no further request: end it; the next ask opens a fresh one.
    if (this.draining) this.endCall(undefined);
    this.release(this, answer);
  }

  private endCall(answer: 'gone' | undefined): void {
    clearTimeout(this.drainTimer);
    this.call?.abort();
    this.call = undefined;
    this.draining = false;
    if (answer && this.holding) {
      this.holding = false;
      this.release(this, answer);
    }
    if (this.retired) this.close();
  }

  private broken(error: Error): void {
    // A task too big for the receive limit breaks the stream too: that one is logged as an error, with the fix.
    const entry = describePollError(error, this.options.maxReceiveMessageLength);
    this.options.logger[entry.level](entry.message, { taskName: this.taskName, address: this.address, ...entry.fields });
    this.call?.abort();
    this.call = undefined;
    this.draining = false;
    clearTimeout(this.drainTimer);
    const wasHolding = this.holding;
    this.holding = false;
    this.backingOff = true;
    // A broken stream's parked request is gone with it: the permit is free for another stream.
    if (wasHolding) this.release(this, 'gone');
    if (this.retired) return this.close();
    setTimeout(() => {
      this.backingOff = false;
      if (!this.retired) this.recovered();
    }, backoffMs(this.failures++, 100, 2_000)).unref();
  }
}
