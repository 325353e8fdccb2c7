import { type BenchResults, memoryGrowth } from './results.js';
import type { FleetFigures } from './fleet.js';
import type { Target } from './targets.js';

type Row = [figure: string, live: number, baseline: number, floor: number, unit: string];

const MB = 1024 * 1024;

/** Worker figures beside the polling baseline and the loopback floor, each with its ratio. */
export function renderTable(results: BenchResults, targets: Target[]): string {
  const { live, baseline, floor, bundle } = results;
  const roundTrip = floor.grpcRoundTripMs.p50 + floor.httpRoundTripMs.p50;
  const growth = memoryGrowth(live);
  const atStart = (figures: typeof live) => figures.memory.find((m) => m.tasks === 0);
  const rows: Row[] = [
    ['cold start: spawn → first PollTask, p50', live.coldStart.firstPollMs.p50, baseline.coldStart.firstPollMs.p50, floor.nodeStartMs.p50, 'ms'],
    ['cold start: spawn → ready, p50', live.coldStart.readyMs.p50, baseline.coldStart.readyMs.p50, floor.nodeStartMs.p50, 'ms'],
    ['per-task overhead, p50', live.overheadMs.p50, baseline.overheadMs.p50, roundTrip, 'ms'],
    ['per-task overhead, p95', live.overheadMs.p95, baseline.overheadMs.p95, roundTrip, 'ms'],
    ['per-task overhead, p99', live.overheadMs.p99, baseline.overheadMs.p99, roundTrip, 'ms'],
    ['completion detection, p50', live.detectionMs.p50, baseline.detectionMs.p50, roundTrip, 'ms'],
    ['completion detection, p99', live.detectionMs.p99, baseline.detectionMs.p99, roundTrip, 'ms'],
    ['throughput, zero-time ComfyUI', live.throughputPerSec, baseline.throughputPerSec, 1000 / roundTrip, 'tasks/s'],
    ['worker CPU per task (user + system)', live.cpuMsPerTask.worker, baseline.cpuMsPerTask.worker, Number.NaN, 'ms'],
    ['doubles CPU per task (for contrast)', live.cpuMsPerTask.doubles, baseline.cpuMsPerTask.doubles, Number.NaN, 'ms'],
    ['ComfyUI HTTP requests per task', live.perTask.comfyHttp, baseline.perTask.comfyHttp, Number.NaN, ''],
    ['ComfyUI WebSocket connections per task', live.perTask.comfyWebSockets, baseline.perTask.comfyWebSockets, Number.NaN, ''],
    ['LittleHorse calls per task', live.perTask.littlehorseCalls, baseline.perTask.littlehorseCalls, Number.NaN, ''],
    ['PollTask requests per task', live.perTask.pollRequests, baseline.perTask.pollRequests, Number.NaN, ''],
    ['RSS after start', (atStart(live)?.rssBytes ?? Number.NaN) / MB, (atStart(baseline)?.rssBytes ?? Number.NaN) / MB, Number.NaN, 'MB'],
    ['live heap after start', (atStart(live)?.heapBytes ?? Number.NaN) / MB, (atStart(baseline)?.heapBytes ?? Number.NaN) / MB, Number.NaN, 'MB'],
    ...live.memory
      .filter((m) => m.tasks > 0)
      .flatMap(({ tasks, rssBytes, heapBytes }): Row[] => [
        [`RSS after ${tasks} tasks`, rssBytes / MB, Number.NaN, Number.NaN, 'MB'],
        [`live heap after ${tasks} tasks`, heapBytes / MB, Number.NaN, Number.NaN, 'MB'],
      ]),
    [`RSS growth, task ${growth.from} → ${growth.to}`, growth.rssBytes / MB, Number.NaN, Number.NaN, 'MB'],
    [`live heap growth, task ${growth.from} → ${growth.to}`, growth.heapBytes / MB, Number.NaN, Number.NaN, 'MB'],
    ['bundle, raw', bundle.rawBytes / MB, Number.NaN, Number.NaN, 'MB'],
    ['bundle, gzipped', bundle.gzipBytes / MB, Number.NaN, Number.NaN, 'MB'],
  ];
  const header = ['figure', 'worker', 'baseline', '× baseline', 'floor', '× floor'];
  const body = rows.map(([figure, w, b, f, unit]) => [figure, show(w, unit), show(b, unit), ratio(w, b), show(f, unit), ratio(w, f)]);
  const routes = Object.entries(live.perTask.comfyHttpByRoute).map(([route, n]) => `${route} ${n.toFixed(3)}`).join(', ');
  const methods = Object.entries(live.perTask.littlehorseByMethod).map(([method, n]) => `${method} ${n.toFixed(3)}`).join(', ');
  return [
    `comfyui-worker benchmark, ${results.date} (node ${results.machine.node}, ${results.machine.cpus} × ${results.machine.cpu})${results.quick ? ' (quick run)' : ''}`,
    `memory: read while idle, after a full garbage collection (V8 inspector); live heap = what the program still holds`,
    `worker: ${live.overheadMs.n} timed tasks + batch; baseline: ${baseline.label}, ${baseline.overheadMs.n} timed tasks; floor: gRPC ${floor.grpcRoundTripMs.p50.toFixed(2)} ms + HTTP ${floor.httpRoundTripMs.p50.toFixed(2)} ms round trip, node start ${floor.nodeStartMs.p50.toFixed(0)} ms`,
    '',
    markdownTable(header, body),
    '',
    `per task, worker: ComfyUI ${routes}; LittleHorse ${methods}`,
    '',
    'targets:',
    ...targets.map((t) => `  ${t.met ? 'met   ' : 'MISSED'} ${t.figure}: ${t.value.toFixed(2)} ${t.unit} (limit ${t.limit} ${t.unit})`),
    '',
    `took ${results.durationSec} s`,
  ].join('\n');
}

/** The fleet section: makespan against the reference schedules, waits and GPU idle time, per scenario. */
export function renderFleetTable(fleet: FleetFigures[]): string {
  const header = ['fleet figure', ...fleet.map((f) => f.label)];
  const row = (figure: string, pick: (f: FleetFigures) => string) => [figure, ...fleet.map(pick)];
  const body = [
    row('workers × tasks', (f) => `${f.workers} × ${f.tasks}`),
    row('makespan', (f) => show(f.makespanMs, 'ms')),
    row('ideal (FIFO to first free, no overhead)', (f) => `${show(f.idealMakespanMs, 'ms')} (${ratio(f.makespanMs, f.idealMakespanMs)})`),
    row('lower bound (work / fleet speed)', (f) => `${show(f.lowerBoundMs, 'ms')} (${ratio(f.makespanMs, f.lowerBoundMs)})`),
    row('claim → start on ComfyUI, p50', (f) => show(f.claimToStartMs.p50, 'ms')),
    row('claim → start on ComfyUI, max', (f) => show(f.claimToStartMs.max, 'ms')),
    row('GPU idle between prompts while queued, p50', (f) => show(f.gpuIdleMs.p50, 'ms')),
    row('GPU idle between prompts while queued, p99', (f) => show(f.gpuIdleMs.p99, 'ms')),
    row('tasks per worker (speed 0.5×, 1×, 1×, 2× run time)', (f) => f.tasksPerWorker.join(' / ')),
    row('tasks handed back by a busy worker', (f) => String(f.handedBack)),
  ];
  return ['fleet:', markdownTable(header, body)].join('\n');
}

function show(value: number, unit: string): string {
  if (!Number.isFinite(value)) return '—';
  const digits = unit === 'tasks/s' || Math.abs(value) >= 100 ? 0 : unit === '' || unit === 'MB' ? 2 : 1;
  return `${value.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

function ratio(value: number, reference: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference === 0) return '—';
  return `${(value / reference).toFixed(2)}×`;
}

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}
