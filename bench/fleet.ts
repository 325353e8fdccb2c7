import { performance } from 'node:perf_hooks';
import { type ReportTaskRun, TaskStatus, type WfSpecId } from 'littlehorse-client/proto';
import { oneTaskWfSpec } from '../devstack/littlehorse/one-task-wf-spec.js';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import { type FakeLittleHorse, type FakeTaskRun, startFakeLittleHorse } from '../devstack/littlehorse/index.js';
import { type BundleProcess, startBundle } from './bundle-process.js';
import { idealFifoMakespan, workLowerBound } from './schedule.js';
import { type Summary, summarise } from './stats.js';
import { withTimeout } from './with-timeout.js';

const TASK_NAME = 'bench-fleet';
const WAIT_MS = 120_000;

export interface FleetScenario {
  label: string;
  /** One ComfyUI per worker: how long it takes per millisecond of a task's base duration. */
  speeds: number[];
  /** Each task's base duration (ms), in scheduling order. */
  durationsMs: number[];
  /** When each task is scheduled, ms after the first (all 0: queued at once). */
  arrivalsMs: number[];
}

export interface FleetFigures {
  label: string;
  workers: number;
  tasks: number;
  makespanMs: number;
  /** The same tasks, FIFO to whichever machine frees first, with zero overhead: what a perfect pull fleet achieves. */
  idealMakespanMs: number;
  /** Total work over total speed: no schedule can beat it. */
  lowerBoundMs: number;
  /** LittleHorse's claim → the prompt starting on that worker's ComfyUI. */
  claimToStartMs: Summary;
  /** A ComfyUI's prompt end (history written) → its next prompt's start, while tasks were queued. */
  gpuIdleMs: Summary;
  tasksPerWorker: number[];
  /** Tasks a busy worker handed back (TASK_FAILED "already running another task"): 0 with working flow control. */
  handedBack: number;
}

/** Several bundled workers, one simulated ComfyUI each, on one LittleHorse double. */
export async function measureFleet(scenario: FleetScenario): Promise<FleetFigures> {
  const lh = await startFakeLittleHorse();
  const comfys: FakeComfy[] = [];
  const workers: BundleProcess[] = [];
  try {
    for (const speed of scenario.speeds) {
      comfys.push(await startFakeComfy({ steps: 1, runTimeFor: (prompt) => (baseDuration(prompt) ?? 0) * speed }));
    }
    const recorder = new FleetRecorder(lh, comfys);
    for (const [k, comfy] of comfys.entries()) {
      const worker = startBundle({
        COMFYUI_BASE_URL: comfy.url,
        COMFYUI_OUTPUT_DIR: comfy.outputDir,
        LHW_TASK_NAME: TASK_NAME,
        LHW_TASK_WORKER_ID: workerId(k),
        LHC_API_HOST: lh.host,
        LHC_API_PORT: String(lh.port),
      });
      workers.push(worker);
      await withTimeout(worker.ready, `fleet worker ${k} to be ready`, WAIT_MS);
    }
    // Every worker idle, with its one request parked.
    while (lh.parkedRequests() < workers.length) await new Promise((resolve) => setTimeout(resolve, 10));

    const firstAt = performance.now();
    const reports = scenario.durationsMs.map(async (duration, i) => {
      const wait = firstAt + scenario.arrivalsMs[i]! - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      return recorder.schedule(duration, i);
    });
    await withTimeout(Promise.all(reports), 'every fleet task to be reported', WAIT_MS);
    const makespanMs = recorder.lastReportAt - firstAt;
    return {
      label: scenario.label,
      workers: workers.length,
      tasks: scenario.durationsMs.length,
      makespanMs,
      idealMakespanMs: idealFifoMakespan(scenario.durationsMs, scenario.arrivalsMs, scenario.speeds),
      lowerBoundMs: workLowerBound(scenario.durationsMs, scenario.arrivalsMs, scenario.speeds),
      claimToStartMs: summarise(recorder.claimToStart()),
      gpuIdleMs: summarise(recorder.gpuIdleWhileQueued()),
      tasksPerWorker: comfys.map((_, k) => recorder.claimsBy(workerId(k))),
      handedBack: recorder.handedBack,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await lh.stop();
    await Promise.all(comfys.map((c) => c.stop()));
  }
}

const workerId = (k: number) => `fleet-worker-${k}`;

/** The benchmark writes each task's base duration into its one node's text. */
function baseDuration(prompt: Record<string, unknown>): number | undefined {
  const text = JSON.stringify(prompt);
  const match = /duration (\d+) ms/.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Claims, ComfyUI starts and ends, and reports, timestamped as they happen. */
class FleetRecorder {
  private readonly claims = new Map<string, number[]>();
  private readonly starts: number[][];
  /** [end time, whether a task was waiting in LittleHorse's queue then]. */
  private readonly ends: Array<Array<[number, boolean]>>;
  private readonly waiting = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  private queued = 0;
  private wfSpecId: WfSpecId | undefined;
  lastReportAt = 0;
  handedBack = 0;

  constructor(
    private readonly lh: FakeLittleHorse,
    comfys: FakeComfy[],
  ) {
    this.starts = comfys.map(() => []);
    this.ends = comfys.map(() => []);
    lh.events.on('claim', (run: FakeTaskRun, attempt: number) => {
      this.queued--;
      const worker = run.attempts[attempt]!.taskWorkerId;
      this.claims.set(worker, [...(this.claims.get(worker) ?? []), performance.now()]);
    });
    lh.events.on('report', (report: ReportTaskRun, run: FakeTaskRun) => {
      if (report.status === TaskStatus.TASK_FAILED && report.error?.message.includes('already running another task')) {
        this.handedBack++;
        return;
      }
      const waiter = this.waiting.get(run.key);
      if (!waiter) return;
      this.waiting.delete(run.key);
      this.lastReportAt = performance.now();
      if (report.status === TaskStatus.TASK_SUCCESS) waiter.resolve();
      else waiter.reject(new Error(`fleet task ${run.key} was reported ${report.status}: ${JSON.stringify(report.error ?? report.exception)}`));
    });
    for (const [k, comfy] of comfys.entries()) {
      comfy.events.on('started', () => this.starts[k]!.push(performance.now()));
      comfy.events.on('history-written', () => this.ends[k]!.push([performance.now(), this.queued > 0]));
    }
  }

  schedule(durationMs: number, index: number): Promise<void> {
    this.queued++;
    const workflow = { '1': { class_type: 'PreviewAny', inputs: { source: `fleet task ${index}, duration ${durationMs} ms` } } };
    this.wfSpecId ??= this.lh.putWfSpec(oneTaskWfSpec('bench-fleet-wf', TASK_NAME, 60)).id;
    const run = this.lh.scheduleTask({ taskDefName: TASK_NAME, wfSpecId: this.wfSpecId, variables: { workflow: { jsonObj: JSON.stringify(workflow) } } });
    return new Promise((resolve, reject) => this.waiting.set(run.key, { resolve, reject }));
  }

  claimsBy(worker: string): number {
    return this.claims.get(worker)?.length ?? 0;
  }

  /** Each worker takes one task at a time, so its n-th claim is its ComfyUI's n-th start. */
  claimToStart(): number[] {
    return this.starts.flatMap((starts, k) => (this.claims.get(workerId(k)) ?? []).map((claimedAt, n) => starts[n]! - claimedAt));
  }

  gpuIdleWhileQueued(): number[] {
    return this.ends.flatMap((ends, k) =>
      ends.flatMap(([endedAt, queued], n) => (queued && this.starts[k]![n + 1] !== undefined ? [this.starts[k]![n + 1]! - endedAt] : [])),
    );
  }
}
