import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ReportTaskRun, TaskStatus, type WfSpecId } from 'littlehorse-client/proto';
import { oneTaskWfSpec } from '../devstack/littlehorse/one-task-wf-spec.js';
import { startFakeComfy, type FakeComfy } from '../devstack/comfyui/index.js';
import { startFakeLittleHorse, type FakeLittleHorse, type FakeTaskRun } from '../devstack/littlehorse/index.js';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { type BundleProcess, startBundle } from './bundle-process.js';
import { liveHeapBytes } from './live-heap.js';
import { cpuMs, residentBytes } from './process-usage.js';
import { type Summary, summarise } from './stats.js';
import { withTimeout } from './with-timeout.js';

const TASK_NAME = 'bench-comfyui-workflow';

export interface WorkerScenario {
  label: string;
  /** Extra environment for the worker (the baseline switches live events off). */
  env: Record<string, string>;
  /** Node options for the measured worker (not the cold starts), e.g. --cpu-prof. */
  nodeArgs?: string[];
  coldStarts: number;
  warmupTasks: number;
  /** Tasks run one at a time, each timed from schedule to report. */
  sequentialTasks: number;
  /** How long the ComfyUI double "runs" each sequential task. */
  runTimeMs: (task: number) => number;
  /** Tasks kept queued `window` at a time against a zero-time ComfyUI, for throughput and memory. */
  batchTasks: number;
  window: number;
  /** Total task counts after which the worker's memory is read, through its inspector (none: no --inspect). */
  memoryAt: number[];
}

export interface WorkerFigures {
  label: string;
  coldStart: { firstPollMs: Summary; readyMs: Summary };
  overheadMs: Summary;
  detectionMs: Summary;
  throughputPerSec: number;
  /** CPU time per task during the batch: the worker's, and the doubles' (this process) for contrast. */
  cpuMsPerTask: { worker: number; doubles: number };
  perTask: {
    comfyHttp: number;
    comfyHttpByRoute: Record<string, number>;
    comfyWebSockets: number;
    littlehorseCalls: number;
    littlehorseByMethod: Record<string, number>;
    pollRequests: number;
  };
  /** After start (tasks 0) and at each checkpoint, read while idle after a full garbage collection. */
  memory: Array<{ tasks: number; rssBytes: number; heapBytes: number }>;
}

/** Runs the built bundle against both doubles on loopback and times what it does. */
export async function measureWorker(scenario: WorkerScenario): Promise<WorkerFigures> {
  const lh = await startFakeLittleHorse();
  const comfy = await startFakeComfy({ runTimeMs: 0, steps: 4 });
  const env = {
    COMFYUI_BASE_URL: comfy.url,
    COMFYUI_OUTPUT_DIR: comfy.outputDir,
    LHW_TASK_NAME: TASK_NAME,
    LHC_API_HOST: lh.host,
    LHC_API_PORT: String(lh.port),
    ...scenario.env,
  };
  const tracker = new TaskTracker(lh, comfy);
  let worker: BundleProcess | undefined;
  try {
    const coldStart = await measureColdStarts(lh, env, scenario.coldStarts);
    const measuresMemory = scenario.memoryAt.length > 0;
    worker = startBundle(env, [...(measuresMemory ? ['--inspect=127.0.0.1:0'] : []), ...(scenario.nodeArgs ?? [])]);
    await withTimeout(worker.ready, 'the worker to be ready');
    const pid = worker.pid;
    const inspector = measuresMemory ? await withTimeout(worker.inspectorUrl, "the worker's inspector address") : undefined;
    const memory: WorkerFigures['memory'] = [];
    const readMemory = async (tasks: number) => {
      if (!inspector) return;
      const heapBytes = await liveHeapBytes(inspector); // a full GC first, so RSS is read at its floor too
      memory.push({ tasks, rssBytes: residentBytes(pid), heapBytes });
    };
    await sleep(500);
    await readMemory(0);

    for (let i = 0; i < scenario.warmupTasks; i++) await tracker.runOne(0);

    const before = counters(lh, comfy);
    const timings: Array<{ overhead: number; detection: number }> = [];
    for (let i = 0; i < scenario.sequentialTasks; i++) timings.push(await tracker.runOne(scenario.runTimeMs(i)));
    const after = counters(lh, comfy);

    // The batch, paused at each memory checkpoint (total tasks so far) to read memory while idle.
    comfy.runTimeMs = 0;
    let done = scenario.warmupTasks + scenario.sequentialTasks;
    const last = done + scenario.batchTasks;
    const stops = [...scenario.memoryAt.filter((n) => n > done && n < last).sort((a, b) => a - b), last];
    const batch = { ms: 0, workerCpuMs: 0, doublesCpuMs: 0 };
    for (const stop of stops) {
      const count = stop - done;
      if (count <= 0) continue;
      const [workerCpu, doublesCpu] = [cpuMs(pid), process.cpuUsage()];
      batch.ms += await tracker.runBatch(count, scenario.window);
      const doublesUsed = process.cpuUsage(doublesCpu);
      batch.workerCpuMs += cpuMs(pid) - workerCpu;
      batch.doublesCpuMs += (doublesUsed.user + doublesUsed.system) / 1000;
      done += count;
      if (scenario.memoryAt.includes(done)) await readMemory(done);
    }
    const cpuMsPerTask = { worker: batch.workerCpuMs / scenario.batchTasks, doubles: batch.doublesCpuMs / scenario.batchTasks };

    return {
      label: scenario.label,
      coldStart,
      overheadMs: summarise(timings.map((t) => t.overhead)),
      detectionMs: summarise(timings.map((t) => t.detection)),
      throughputPerSec: scenario.batchTasks / (batch.ms / 1000),
      cpuMsPerTask,
      perTask: perTask(before, after, scenario.sequentialTasks),
      memory,
    };
  } finally {
    await worker?.stop();
    await lh.stop();
    await comfy.stop();
  }
}

async function measureColdStarts(lh: FakeLittleHorse, env: Record<string, string>, count: number) {
  const firstPoll: number[] = [];
  const ready: number[] = [];
  for (let i = 0; i < count; i++) {
    let polledAt: number | undefined;
    const onPoll = () => (polledAt ??= performance.now());
    lh.events.on('poll-request', onPoll);
    const worker = startBundle(env);
    try {
      const readyAt = await withTimeout(worker.ready, 'the worker to be ready');
      while (polledAt === undefined) await sleep(1);
      firstPoll.push(polledAt - worker.spawnedAt);
      ready.push(readyAt - worker.spawnedAt);
    } finally {
      lh.events.off('poll-request', onPoll);
      await worker.stop();
    }
  }
  return { firstPollMs: summarise(firstPoll), readyMs: summarise(ready) };
}

/** Schedules TaskRuns on the LittleHorse double and pairs each report with ComfyUI's run of it. */
class TaskTracker {
  private readonly waiting = new Map<string, { resolve: (reportedAt: number) => void; reject: (error: Error) => void }>();
  private run: { startedAt?: number; doneAt?: number } = {};
  /** PollTask requests the LittleHorse double holds unanswered: > 0 means the worker is waiting for work. */
  private parkedPolls = 0;
  private onPolling: (() => void) | undefined;
  private wfSpecId: WfSpecId | undefined;

  constructor(
    private readonly lh: FakeLittleHorse,
    private readonly comfy: FakeComfy,
  ) {
    lh.events.on('report', (report: ReportTaskRun, run: FakeTaskRun) => {
      const reportedAt = performance.now();
      const waiter = this.waiting.get(run.key);
      if (!waiter) return;
      this.waiting.delete(run.key);
      if (report.status !== TaskStatus.TASK_SUCCESS) {
        waiter.reject(new Error(`task ${run.key} was reported ${report.status}: ${JSON.stringify(report.error ?? report.exception)}`));
        return;
      }
      waiter.resolve(reportedAt);
    });
    lh.events.on('poll-request', () => {
      this.parkedPolls++;
      this.onPolling?.();
    });
    lh.events.on('claim', () => this.parkedPolls--);
    comfy.events.on('started', () => (this.run.startedAt = performance.now()));
    comfy.events.on('history-written', () => (this.run.doneAt = performance.now()));
  }

  private schedule(): Promise<number> {
    // Tasks come from a WfSpec, as in production, so the worker learns their timeout from it once.
    this.wfSpecId ??= this.lh.putWfSpec(oneTaskWfSpec('bench-wf', TASK_NAME, 60)).id;
    const run = this.lh.scheduleTask({ taskDefName: TASK_NAME, wfSpecId: this.wfSpecId, variables: { workflow: { jsonObj: JSON.stringify(txt2img) } } });
    return withTimeout(new Promise<number>((resolve, reject) => this.waiting.set(run.key, { resolve, reject })), `the report of ${run.key}`);
  }

  /**
   * One task, scheduled once the worker is waiting for work (as a TaskRun arriving at an idle worker
   * is; back-to-back work is the batch's measure): overhead = (report − schedule) − ComfyUI's run,
   * detection = report − ComfyUI done.
   */
  async runOne(runTimeMs: number): Promise<{ overhead: number; detection: number }> {
    if (this.parkedPolls <= 0) {
      await withTimeout(new Promise<void>((resolve) => (this.onPolling = resolve)), 'the worker to ask for work');
      this.onPolling = undefined;
    }
    this.comfy.runTimeMs = runTimeMs;
    this.run = {};
    const scheduledAt = performance.now();
    const reportedAt = await this.schedule();
    const { startedAt, doneAt } = this.run;
    if (startedAt === undefined || doneAt === undefined) throw new Error('ComfyUI did not run the task it was given');
    return { overhead: reportedAt - scheduledAt - (doneAt - startedAt), detection: reportedAt - doneAt };
  }

  /** Keeps `window` tasks queued until `count` have been reported; returns the milliseconds it took. */
  async runBatch(count: number, window: number): Promise<number> {
    let scheduled = 0;
    const startedAt = performance.now();
    const lane = async () => {
      while (scheduled < count) {
        scheduled++;
        await this.schedule();
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
    return performance.now() - startedAt;
  }
}

type Counters = ReturnType<typeof counters>;

function counters(lh: FakeLittleHorse, comfy: FakeComfy) {
  return {
    comfyHttp: { ...comfy.stats.requests },
    comfyWebSockets: comfy.stats.wsConnections,
    littlehorse: { ...lh.stats.calls },
    pollRequests: lh.stats.pollRequests,
  };
}

function perTask(before: Counters, after: Counters, tasks: number): WorkerFigures['perTask'] {
  const diff = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.entries(b).map(([k, v]) => [k, (v - (a[k] ?? 0)) / tasks]).filter(([, v]) => v !== 0));
  const comfyHttpByRoute = diff(before.comfyHttp, after.comfyHttp);
  const littlehorseByMethod = diff(before.littlehorse, after.littlehorse);
  const sum = (r: Record<string, number>) => Object.values(r).reduce((s, v) => s + v, 0);
  return {
    comfyHttp: sum(comfyHttpByRoute),
    comfyHttpByRoute,
    comfyWebSockets: (after.comfyWebSockets - before.comfyWebSockets) / tasks,
    littlehorseCalls: sum(littlehorseByMethod),
    littlehorseByMethod,
    pollRequests: (after.pollRequests - before.pollRequests) / tasks,
  };
}
