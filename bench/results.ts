import type { FleetFigures } from './fleet.js';
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
  fleet: FleetFigures[];
}

/** Memory growth from the first checkpoint after start-up (warm-up done) to the last. */
export function memoryGrowth(figures: WorkerFigures): { from: number; to: number; rssBytes: number; heapBytes: number } {
  const points = figures.memory.filter((m) => m.tasks > 0);
  const first = points[0];
  const last = points.at(-1);
  if (!first || !last || first === last) return { from: 0, to: 0, rssBytes: Number.NaN, heapBytes: Number.NaN };
  return { from: first.tasks, to: last.tasks, rssBytes: last.rssBytes - first.rssBytes, heapBytes: last.heapBytes - first.heapBytes };
}
