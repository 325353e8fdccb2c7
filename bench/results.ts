import type { FloorFigures } from './floor.js';
import type { WorkerFigures } from './measure-worker.js';

export interface BenchResults {
  date: string;
  machine: { node: string; cpus: number; cpu: string; platform: string };
  quick: boolean | undefined;
  durationSec: number;
  live: WorkerFigures;
  baseline: WorkerFigures;
  floor: FloorFigures;
  bundle: { rawBytes: number; gzipBytes: number };
}

/** RSS readings after N tasks, in task order: `{ tasks, bytes }`. */
export function rssCheckpoints(figures: WorkerFigures): Array<{ tasks: number; bytes: number }> {
  return Object.entries(figures.rssBytes)
    .filter(([key]) => key.startsWith('after'))
    .map(([key, bytes]) => ({ tasks: Number(key.slice('after'.length)), bytes }))
    .sort((a, b) => a.tasks - b.tasks);
}

/**
 * RSS growth from the first checkpoint to the last, as the least-squares trend of the samples in
 * between. Two single readings mostly measure where the garbage collector happened to be; a leak
 * is a slope that every sample shares. Warm-up before the first checkpoint is left out.
 */
export function rssGrowth(figures: WorkerFigures): { from: number; to: number; bytes: number } {
  const samples = figures.rssSamples;
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || samples.length < 3) return { from: 0, to: 0, bytes: Number.NaN };
  const meanX = samples.reduce((sum, s) => sum + s.tasks, 0) / samples.length;
  const meanY = samples.reduce((sum, s) => sum + s.bytes, 0) / samples.length;
  const covariance = samples.reduce((sum, s) => sum + (s.tasks - meanX) * (s.bytes - meanY), 0);
  const variance = samples.reduce((sum, s) => sum + (s.tasks - meanX) ** 2, 0);
  return { from: first.tasks, to: last.tasks, bytes: (covariance / variance) * (last.tasks - first.tasks) };
}
