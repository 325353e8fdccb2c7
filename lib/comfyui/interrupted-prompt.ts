import { queueHolds } from '../../functions/execute-comfyui-workflow/comfy-messages.js';
import type { ComfyApi, StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import { sleep } from '../backoff.js';

/** Longest the worker stays away from LittleHorse for a prompt it interrupted (one node on a GPU can take this long). */
export const INTERRUPTED_PROMPT_WAIT_MS = 60_000;
const CHECK_INTERVAL_MS = 250;

/**
 * Waits until a prompt the worker interrupted has left ComfyUI's queue. ComfyUI's interrupt is
 * cooperative (execution.py checks the flag between nodes and in the samplers' progress hook): the
 * node that is running finishes first, and until then a new prompt would wait behind it. So the
 * worker is not idle until then. Bounded: after `timeoutMs`, or when `signal` aborts, it gives up.
 * Returns how long it waited, or undefined when it gave up.
 */
export async function waitForInterruptedPrompt(
  comfy: Pick<ComfyApi, 'getQueue'>,
  promptId: string,
  options: { logger: StructuredLog; signal: AbortSignal; timeoutMs?: number; intervalMs?: number },
): Promise<number | undefined> {
  const timeoutMs = options.timeoutMs ?? INTERRUPTED_PROMPT_WAIT_MS;
  const startedAt = Date.now();
  let announced = false;
  while (Date.now() - startedAt < timeoutMs && !options.signal.aborted) {
    try {
      const queue = await comfy.getQueue(AbortSignal.any([options.signal, AbortSignal.timeout(5_000)]));
      if (!queueHolds(queue, promptId)) {
        if (announced) options.logger.info('interrupted prompt has left ComfyUI; asking for work again', { event: 'interrupted-prompt-left', promptId, waitedMs: Date.now() - startedAt });
        return Date.now() - startedAt;
      }
    } catch {
      // ComfyUI not answering: keep trying within the bound (the health check covers a ComfyUI that is gone).
    }
    if (!announced) {
      options.logger.info('waiting for ComfyUI to finish the prompt it was told to interrupt before asking LittleHorse for work', { event: 'interrupted-prompt-waiting', promptId, timeoutMs });
      announced = true;
    }
    await sleep(options.intervalMs ?? CHECK_INTERVAL_MS, options.signal).catch(() => undefined);
  }
  if (!options.signal.aborted) {
    options.logger.warn('interrupted prompt still on ComfyUI; asking for work anyway', { promptId, waitedMs: Date.now() - startedAt });
  }
  return undefined;
}
