import { describe, expect, it } from 'vitest';
import { memoryGrowth } from '../bench/results.js';
import { percentile, summarise } from '../bench/stats.js';
import type { WorkerFigures } from '../bench/measure-worker.js';

describe('benchmark statistics', () => {
  it('takes nearest-rank percentiles, so p99 of 100 samples is the 99th smallest', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
    const summary = summarise(samples);
    expect(summary).toMatchObject({ n: 100, p50: 50, p95: 95, p99: 99, max: 100, mean: 50.5 });
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('measures memory growth from the first checkpoint after start-up to the last', () => {
    const memory = [
      { tasks: 0, rssBytes: 50, heapBytes: 10 },
      { tasks: 1_000, rssBytes: 70, heapBytes: 13 },
      { tasks: 5_000, rssBytes: 72, heapBytes: 14 },
    ];
    expect(memoryGrowth({ memory } as WorkerFigures)).toEqual({ from: 1_000, to: 5_000, rssBytes: 2, heapBytes: 1 });
    expect(memoryGrowth({ memory: memory.slice(0, 2) } as WorkerFigures).rssBytes).toBeNaN();
  });
});
