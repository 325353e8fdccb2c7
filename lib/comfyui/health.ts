import type { LiveEvents, StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import { sleep } from '../backoff.js';

export interface HealthOptions {
  comfy: { systemStats(signal?: AbortSignal, options?: { retries: number }): Promise<unknown> };
  live?: LiveEvents;
  logger: StructuredLog;
  onChange: (healthy: boolean) => void;
  probeIntervalMs?: number;
}

/**
 * Whether ComfyUI answers. A dropped socket or a task failing as "unavailable" starts a probe
 * (GET /system_stats); while it fails, the runner takes no work from LittleHorse, so tasks are
 * not taken only to be failed.
 */
export class ComfyHealth {
  private isHealthy = true;
  private probing = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  private readonly unlisten: (() => void) | undefined;

  constructor(private readonly options: HealthOptions) {
    this.unlisten = options.live?.listen((signal) => {
      if (signal.type === 'disconnected') this.check();
      if (signal.type === 'connected') this.set(true);
    });
  }

  get healthy(): boolean {
    return this.isHealthy;
  }

  /** Resolves once ComfyUI is healthy; rejects with the signal's reason if it aborts first. */
  ready(signal: AbortSignal): Promise<void> {
    if (this.isHealthy) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters.delete(done);
        reject(signal.reason);
      };
      this.waiters.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Probes ComfyUI now, and keeps probing while it does not answer. */
  check(): void {
    if (this.probing || this.closed) return;
    this.probing = true;
    void this.probe().finally(() => (this.probing = false));
  }

  close(): void {
    this.closed = true;
    this.unlisten?.();
  }

  private async probe(): Promise<void> {
    while (!this.closed) {
      try {
        await this.options.comfy.systemStats(AbortSignal.timeout(5_000), { retries: 0 });
        return this.set(true);
      } catch (error) {
        if (this.isHealthy) {
          this.options.logger.warn('ComfyUI is not answering; taking no work until it is back', { event: 'comfyui-down', error: (error as Error).message });
        }
        this.set(false);
      }
      await sleep(this.options.probeIntervalMs ?? 1_000);
    }
  }

  private set(healthy: boolean): void {
    if (healthy === this.isHealthy) return;
    this.isHealthy = healthy;
    if (healthy) {
      this.options.logger.info('ComfyUI is answering again');
      for (const waiter of [...this.waiters]) waiter();
    }
    this.options.onChange(healthy);
  }
}
