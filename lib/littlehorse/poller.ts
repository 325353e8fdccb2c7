import type { ScheduledTask } from 'littlehorse-client/proto';
import type { StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import { backoffMs, sleep } from '../backoff.js';
import type { LittleHorseConnections } from './connection.js';

export interface PolledTask {
  task: ScheduledTask;
  /** The host that delivered it: reports go there first. */
  address: string;
  receivedAt: number;
}

export interface PollerOptions {
  connections: LittleHorseConnections;
  taskName: string;
  workerId: string;
  workerVersion: string;
  logger: StructuredLog;
  onTask: (task: PolledTask) => void;
  /** RegisterTaskWorker period: 5 s is inside every server version's inactivity window (15 s before v0.16). */
  heartbeatMs?: number;
}

/** How soon to heartbeat again after a rebalance answer or a failed heartbeat. */
const SOON_AFTER_TROUBLE_MS = 1_000;

/**
 * LittleHorse's long-poll protocol: a RegisterTaskWorker heartbeat that says which hosts to poll,
 * and one PollTask stream per host. Each PollTaskRequest asks for at most one task, so flow control
 * is ours: a stream has at most one request outstanding, and only while the runner wants work.
 */
export class TaskPoller {
  private readonly streams = new Map<string, HostStream>();
  private wanting = false;
  private stopped = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PollerOptions) {}

  /** Registers once (rejects if LittleHorse refuses), then keeps the heartbeat going. */
  async start(): Promise<void> {
    this.heartbeatAfter(await this.heartbeat());
  }

  /** Whether to ask for work; requests already parked on the server cannot be taken back. */
  setWanting(wanting: boolean): void {
    this.wanting = wanting;
    if (wanting) for (const stream of this.streams.values()) stream.wake();
  }

  get hostCount(): number {
    return this.streams.size;
  }

  /** Stops asking, cancels every stream (the server drops their parked requests) and the heartbeat. */
  stop(): void {
    this.stopped = true;
    this.wanting = false;
    clearTimeout(this.heartbeatTimer);
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
  }

  /** The next heartbeat: on LittleHorse's interval, or sooner after a rebalance or a failure. */
  private heartbeatAfter(healthy: boolean): void {
    if (this.stopped) return;
    this.heartbeatTimer = setTimeout(async () => {
      try {
        this.heartbeatAfter(await this.heartbeat());
      } catch (error) {
        // Keep the streams we have: a failed heartbeat is usually a rebalance or a restart.
        this.options.logger.warn('RegisterTaskWorker failed; keeping current streams', { error: (error as Error).message });
        this.heartbeatAfter(false);
      }
    }, healthy ? (this.options.heartbeatMs ?? 5_000) : SOON_AFTER_TROUBLE_MS);
    this.heartbeatTimer.unref();
  }

  /** Resolves false when LittleHorse said it is rebalancing: the streams stay as they are. */
  private async heartbeat(): Promise<boolean> {
    const reply = await this.options.connections.bootstrap().registerTaskWorker(
      { taskWorkerId: this.options.workerId, taskDefId: { name: this.options.taskName } },
      { signal: AbortSignal.timeout(10_000) },
    );
    if (this.stopped) return true;
    // During a rebalance the server may answer OK with no hosts (ClusterHealthRequestObserver): keep ours.
    if (reply.yourHosts.length === 0 || reply.isClusterHealthy === false) {
      this.options.logger.warn('LittleHorse is rebalancing; keeping current streams', { hosts: reply.yourHosts.length });
      return false;
    }
    const wanted = new Set(reply.yourHosts.map((h) => `${h.host}:${h.port}`));
    for (const [address, stream] of this.streams) {
      if (wanted.has(address)) continue;
      stream.close();
      this.streams.delete(address);
      this.options.connections.release(address);
      this.options.logger.info('stopped polling a host LittleHorse no longer assigns', { address });
    }
    for (const address of wanted) {
      if (this.streams.has(address)) continue;
      const stream = new HostStream(address, this.options, () => this.wanting);
      this.streams.set(address, stream);
      this.options.logger.info('polling LittleHorse host', { address });
    }
    return true;
  }
}

/** One PollTask stream to one host, reopened with jittered backoff whenever it breaks. */
class HostStream {
  private readonly abort = new AbortController();
  private outstanding = false;
  private wakeUp: () => void = () => {};

  constructor(
    private readonly address: string,
    private readonly options: PollerOptions,
    private readonly wanting: () => boolean,
  ) {
    void this.run();
  }

  wake(): void {
    this.wakeUp();
  }

  close(): void {
    this.abort.abort();
    this.wakeUp();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    for (let failures = 0; !signal.aborted; ) {
      this.outstanding = false; // a broken stream's parked request is gone with it
      const attempt = new AbortController();
      try {
        const client = this.options.connections.client(this.address);
        const call = AbortSignal.any([signal, attempt.signal]);
        for await (const response of client.pollTask(this.requests(call), { signal: call })) {
          failures = 0;
          this.outstanding = false;
          if (response.result) {
            this.options.onTask({ task: response.result, address: this.address, receivedAt: Date.now() });
          } else {
            // An empty answer (server ≥ 0.15): the task was claimed elsewhere; ask again shortly.
            await sleep(50, signal);
          }
          this.wakeUp();
        }
        // The server never ends a PollTask stream on its own (PollTaskRequestObserver): treat it as broken.
      } catch (error) {
        if (signal.aborted) return;
        this.options.logger.warn('PollTask stream broke; reconnecting', { address: this.address, error: (error as Error).message });
      } finally {
        attempt.abort();
        this.wakeUp();
      }
      await sleep(backoffMs(failures++, 100, 2_000), signal).catch(() => undefined);
    }
  }

  private async *requests(signal: AbortSignal) {
    while (!signal.aborted) {
      if (this.wanting() && !this.outstanding) {
        this.outstanding = true;
        yield {
          taskDefId: { name: this.options.taskName },
          clientId: this.options.workerId,
          taskWorkerVersion: this.options.workerVersion,
        };
        continue;
      }
      await new Promise<void>((resolve) => (this.wakeUp = resolve));
    }
  }
}
