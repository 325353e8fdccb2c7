import type { FleetScenario } from './fleet.js';

/** Four ComfyUIs: one twice as fast, two alike, one twice as slow. */
const SPEEDS = [0.5, 1, 1, 2];
const DURATIONS_MS = [10, 30, 60, 150];

/** mulberry32: a seeded generator, so every run schedules the same tasks. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fleet section: `tasks` of mixed durations queued at once, then arriving over time at ~80 % of capacity. */
export function fleetScenarios(tasks: number): FleetScenario[] {
  const random = seeded(12);
  const durationsMs = Array.from({ length: tasks }, () => DURATIONS_MS[Math.floor(random() * DURATIONS_MS.length)]!);
  const meanMs = durationsMs.reduce((s, d) => s + d, 0) / tasks;
  const capacityPerMs = SPEEDS.reduce((s, speed) => s + 1 / (meanMs * speed), 0);
  let at = 0;
  const poissonArrivals = durationsMs.map(() => {
    const now = at;
    at += -Math.log(1 - random()) / (0.8 * capacityPerMs);
    return now;
  });
  return [
    { label: `${tasks} tasks queued at once`, speeds: SPEEDS, durationsMs, arrivalsMs: durationsMs.map(() => 0) },
    { label: `${tasks} tasks arriving over time (~80 % load)`, speeds: SPEEDS, durationsMs, arrivalsMs: poissonArrivals },
  ];
}
