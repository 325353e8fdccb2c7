import type { ScheduledTask } from 'littlehorse-client/proto';
import type { StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import type { LittleHorseConnections } from './connection.js';
import { DRAIN_MS, PollStream } from './poll-stream.js';

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
