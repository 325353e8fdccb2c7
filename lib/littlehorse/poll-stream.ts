import type { PollTaskRequest } from 'littlehorse-client/proto';
import { backoffMs } from '../backoff.js';
import type { PolledTask, PollerOptions } from './poller.js';
import { describePollError } from './stream-errors.js';

/**
 * After a half-close, how long a task the server had already claimed may take to arrive. Claims are
 * answered once recorded (CommandSender.tryToClaimTaskAndReturnToClient, ≥ 0.15), in milliseconds.
 */
export const DRAIN_MS = 200;

/**
 * One PollTask call to one host for one TaskDef, opened when it is first asked and kept for the next
 * request; half-closed to withdraw a parked request; reopened with jittered backoff when it breaks.
 */
export class PollStream {
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
