import type { StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import { sleep } from '../backoff.js';

export interface ReadinessOptions {
  /** One probe; resolves when ComfyUI answers. */
  probe: (signal: AbortSignal) => Promise<unknown>;
  timeoutMs: number;
  intervalMs?: number;
  logger: StructuredLog;
  what: string;
  signal?: AbortSignal;
}

/**
 * Waits until ComfyUI answers GET /system_stats (peers use the same probe), logging what it waits
 * for every 10 s. Resolves false when timeoutMs passes first (or the signal aborts).
 */
export async function waitUntilReady(options: ReadinessOptions): Promise<boolean> {
  const started = Date.now();
  let lastLog = 0;
  for (let tries = 0; ; tries++) {
    if (options.signal?.aborted) return false;
    const left = options.timeoutMs - (Date.now() - started);
    try {
      await options.probe(AbortSignal.timeout(Math.max(500, Math.min(5_000, left))));
      if (tries > 0) options.logger.info(`${options.what} answered`, { waitedMs: Date.now() - started });
      return true;
    } catch (error) {
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        options.logger.info(`waiting for ${options.what}`, { error: (error as Error).message, waitedMs: Date.now() - started, timeoutMs: options.timeoutMs });
      }
    }
    if (Date.now() - started >= options.timeoutMs) return false;
    await sleep(options.intervalMs ?? 1_000, options.signal).catch(() => undefined);
  }
}
