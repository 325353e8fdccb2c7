/**
 * `npm run bench -- [--out results.json] [--quick] [--cpu-prof dir]`: drives the built dist/runner.js
 * against the LittleHorse and ComfyUI doubles on loopback, prints a table and writes the figures as
 * JSON; --cpu-prof also writes a V8 CPU profile of the measured worker (live events) into dir.
 * A program, not a test: the figures depend on the machine, so nothing here passes or fails
 * except a run that cannot complete.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { bundlePath } from './bundle-process.js';
import { measureFleet } from './fleet.js';
import { fleetScenarios } from './fleet-scenarios.js';
import { measureFloor } from './floor.js';
import { measureWorker, type WorkerScenario } from './measure-worker.js';
import { renderFleetTable, renderTable } from './table.js';
import { targetsMet } from './targets.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    /** Only the fleet section (a minute instead of three). */
    'fleet-only': { type: 'boolean', default: false },
  },
});
const scale = values.quick ? 0.1 : 1;
const count = (n: number) => Math.max(1, Math.round(n * scale));

// Spread over the poll interval so polling's detection delay is sampled fairly, not in phase.
const spreadOverOneSecond = (task: number) => (task * 389) % 1000;

const live: WorkerScenario = {
  label: 'live events',
  env: {},
  nodeArgs: values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values['cpu-prof'])}`] : [],
  coldStarts: 7,
  warmupTasks: 20,
  sequentialTasks: count(500),
  runTimeMs: () => 0,
  batchTasks: count(4_480),
  window: 8,
  memoryAt: [count(1_000), count(5_000)],
};
const baseline: WorkerScenario = {
  label: 'polling every 1 s (seed design)',
  env: { COMFYUI_LIVE_EVENTS: 'false', COMFYUI_POLL_INTERVAL_SEC: '1' },
  coldStarts: 3,
  warmupTasks: 1,
  sequentialTasks: values.quick ? 5 : 30, // warm-up 1 + these + the batch = memoryAt
  runTimeMs: spreadOverOneSecond,
  batchTasks: values.quick ? 4 : 20,
  window: 4,
  memoryAt: [values.quick ? 10 : 51],
};

const startedAt = Date.now();
const fleet = [];
for (const scenario of fleetScenarios(values.quick ? 40 : 200)) {
  log(`fleet: ${scenario.speeds.length} workers, ${scenario.label}`);
  fleet.push(await measureFleet(scenario));
}
console.log(renderFleetTable(fleet));
if (values['fleet-only']) {
  if (values.out) writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), fleet }, null, 2) + '\n');
  process.exit(0);
}
log('floor: node start, gRPC and HTTP round trips');
const floor = await measureFloor(count(1_000));
log(`worker, ${live.label}: ${live.coldStarts} cold starts, ${live.sequentialTasks} timed tasks, ${live.batchTasks} batched`);
const liveFigures = await measureWorker(live);
log(`worker, ${baseline.label}: ${baseline.sequentialTasks} timed tasks, ${baseline.batchTasks} batched`);
const baselineFigures = await measureWorker(baseline);
const code = readFileSync(bundlePath);
const bundle = { rawBytes: code.length, gzipBytes: gzipSync(code).length };

const results = {
  date: new Date().toISOString(),
  machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.release()}` },
  quick: values.quick,
  durationSec: Math.round((Date.now() - startedAt) / 1000),
  live: liveFigures,
  baseline: baselineFigures,
  floor,
  bundle,
  fleet,
};
const targets = targetsMet(results);
console.log(renderTable(results, targets));
if (values.out) {
  writeFileSync(values.out, JSON.stringify({ ...results, targets }, null, 2) + '\n');
  log(`figures written to ${values.out}`);
}

function log(text: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
}
