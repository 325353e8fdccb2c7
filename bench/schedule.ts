/**
 * Reference schedules for the fleet benchmark, from the tasks' run times alone (no overhead).
 * `speeds[k]`: how long machine k takes per millisecond of a task's base duration.
 */

/** Tasks in arrival order, each to whichever machine frees first: a perfect pull-based fleet. */
export function idealFifoMakespan(durationsMs: number[], arrivalsMs: number[], speeds: number[]): number {
  const freeAt = speeds.map(() => 0);
  let end = 0;
  for (const [i, duration] of durationsMs.entries()) {
    const arrival = arrivalsMs[i] ?? 0;
    // The machine that can start it soonest; among equals, the fastest.
    let best = 0;
    for (let k = 1; k < speeds.length; k++) {
      const startK = Math.max(freeAt[k]!, arrival);
      const startBest = Math.max(freeAt[best]!, arrival);
      if (startK < startBest || (startK === startBest && speeds[k]! < speeds[best]!)) best = k;
    }
    const finish = Math.max(freeAt[best]!, arrival) + duration * speeds[best]!;
    freeAt[best] = finish;
    end = Math.max(end, finish);
  }
  return end;
}

/** No schedule finishes before all the work is done at the fleet's combined speed, nor before the last arrival. */
export function workLowerBound(durationsMs: number[], arrivalsMs: number[], speeds: number[]): number {
  const work = durationsMs.reduce((sum, d) => sum + d, 0);
  const combinedRate = speeds.reduce((sum, s) => sum + 1 / s, 0);
  const fastest = Math.min(...speeds);
  const lastArrivalBound = Math.max(...durationsMs.map((d, i) => (arrivalsMs[i] ?? 0) + d * fastest));
  return Math.max(work / combinedRate, lastArrivalBound);
}
