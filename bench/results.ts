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

/** RSS growth from the first to the last checkpoint after start-up: a leak shows here, warm-up does not. */
export function rssGrowth(figures: WorkerFigures): { from: number; to: number; bytes: number } {
  const points = rssCheckpoints(figures);
  const first = points[0];
  const last = points.at(-1);
  return first && last ? { from: first.tasks, to: last.tasks, bytes: last.bytes - first.bytes } : { from: 0, to: 0, bytes: Number.NaN };
}
