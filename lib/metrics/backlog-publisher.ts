import type { StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import type { Backlog, TaskMetrics } from './task-metrics.js';

export interface BacklogPublisherOptions {
  intervalMs: number;
  measure: (signal: AbortSignal) => Promise<Backlog>;
  metrics: TaskMetrics;
  logger: StructuredLog;
}

/**
 * Measures the backlog now and every interval after the previous measure ended (so a slow
 * LittleHorse never gets overlapping scans), publishing each figure as one metrics line.
 * Returns the stop function.
 */
export function publishBacklog({ intervalMs, measure, metrics, logger }: BacklogPublisherOptions): () => void {
  const stopped = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const backlog = await measure(AbortSignal.any([stopped.signal, AbortSignal.timeout(Math.max(1_000, intervalMs))]));
      if (stopped.signal.aborted) return;
      metrics.backlog(backlog);
      logger.debug('backlog measured', { backlogCount: backlog.count, backlogAgeMs: backlog.oldestAgeMs });
    } catch (error) {
      if (stopped.signal.aborted) return;
      logger.warn('could not measure the LittleHorse backlog; will try again', { error: (error as Error).message });
    }
    if (!stopped.signal.aborted) timer = setTimeout(tick, intervalMs).unref();
  };
  void tick();
  return () => {
    stopped.abort();
    clearTimeout(timer);
  };
}
