import { type BenchResults, memoryGrowth } from './results.js';

export interface Target {
  figure: string;
  value: number;
  limit: number;
  unit: string;
  met: boolean;
}

const MB = 1024 * 1024;

/** The limits the worker is held to (issue "Benchmarks: measure the worker against its limits"). */
export function targetsMet(results: BenchResults): Target[] {
  const { live, bundle } = results;
  const growth = memoryGrowth(live);
  const atMost = (figure: string, value: number, limit: number, unit: string): Target => ({ figure, value, limit, unit, met: value <= limit });
  return [
    atMost('cold start to first poll, p50', live.coldStart.firstPollMs.p50, 250, 'ms'),
    atMost('per-task overhead, p50', live.overheadMs.p50, 5, 'ms'),
    atMost('per-task overhead, p99', live.overheadMs.p99, 20, 'ms'),
    atMost('completion detection, p50', live.detectionMs.p50, 20, 'ms'),
    atMost('ComfyUI HTTP requests per task', live.perTask.comfyHttp, 3, ''),
    atMost(`RSS growth, task ${growth.from} to ${growth.to}`, growth.rssBytes / MB, 5, 'MB'),
    atMost('bundle size', bundle.rawBytes / MB, 1.5, 'MB'),
  ];
}
