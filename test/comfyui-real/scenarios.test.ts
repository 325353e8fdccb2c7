import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TaskStatus } from 'littlehorse-client/proto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeLittleHorse, type FakeTaskRun, startFakeLittleHorse } from '../../devstack/littlehorse/index.js';
import { spawnWorker, type WorkerProcess, event } from '../support/worker-process.js';
import { type RealComfy, realComfy } from './real-comfy.js';
import {
  exceptionContent,
  filesUnder,
  fresh,
  historyOf,
  loadWorkflow,
  type Reported,
  resultOf,
  submitDirectly,
  tempFolder,
  waitUntilRunning,
  workflowNames,
} from './support.js';
import { TcpProxy } from './tcp-proxy.js';

const TASK_NAME = 'comfyui-real-suite';

let comfy: RealComfy;
let lh: FakeLittleHorse;
const workers: WorkerProcess[] = [];
beforeAll(async () => {
  comfy = await realComfy();
});
afterAll(async () => {
  await comfy?.stop();
});
beforeEach(async () => {
  lh = await startFakeLittleHorse();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await lh.stop();
});

/** Outputs go to ComfyUI's own folder when it is on this machine; otherwise they are downloaded. */
function workerEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    COMFYUI_BASE_URL: comfy.url,
    ...(comfy.outputDir ? { COMFYUI_OUTPUT_DIR: comfy.outputDir } : { COMFYUI_OUTPUT_DIR: tempFolder('downloads'), COMFYUI_DOWNLOAD_OUTPUTS: 'true' }),
    LHW_TASK_NAME: TASK_NAME,
    LHC_API_HOST: lh.host,
    LHC_API_PORT: String(lh.port),
    COMFYUI_POLL_INTERVAL_SEC: '1',
    COMFYUI_WATCHDOG_INTERVAL_SEC: '5',
    COMFYUI_START_TIMEOUT_SEC: '30',
    ...extra,
  };
}
async function startWorker(extra: Record<string, string> = {}): Promise<WorkerProcess> {
  const worker = spawnWorker(workerEnv(extra));
  workers.push(worker);
  await worker.waitForLog(event('worker-ready'), 30_000);
  return worker;
}
const schedule = (graph: unknown, options: { timeoutSeconds?: number; retries?: number } = {}) =>
  lh.scheduleTask({ taskDefName: TASK_NAME, variables: { workflow: { jsonObj: JSON.stringify(graph) } }, timeoutSeconds: 60, ...options });
const finished = (run: FakeTaskRun, timeoutMs = 90_000) => lh.waitForTaskRun(run.id, timeoutMs);
/** The prompt id the worker logged with its last report (the log line follows the report). */
const reportedPromptId = async (worker: WorkerProcess, reports = 1) => {
  await worker.waitForLog(() => worker.logs.filter(event('task-reported')).length >= reports);
  return String(worker.logs.filter(event('task-reported')).at(-1)?.promptId ?? '');
};

/** A successful run's files: on disk where the worker says, under the folder it writes to. */
function expectFilesOnDisk(result: Reported, outputDir: string): void {
  for (const file of result.outputs.filter((f) => f.type === 'output')) {
    expect(file.path).toBe(path.join(outputDir, file.subfolder, file.filename));
    expect(existsSync(file.path!)).toBe(true);
  }
}

type Check = (run: FakeTaskRun, worker: WorkerProcess) => Promise<void> | void;
const attempt0 = (run: FakeTaskRun) => run.attempts[0];

/** Every graph of workflows/ and the outcome it must have (a graph without an entry fails the suite). */
const EXPECTED: Record<string, Check> = {
  ok: async (run, worker) => {
    expect(run.status).toBe(TaskStatus.TASK_SUCCESS);
    const result = resultOf(attempt0(run));
    expect(result.outputs).toEqual([expect.objectContaining({ node_id: '3', kind: 'images', subfolder: 'realtest', type: 'output' })]);
    expectFilesOnDisk(result, workerEnv().COMFYUI_OUTPUT_DIR!);
    expect(await reportedPromptId(worker)).toBe(result.prompt_id);
  },
  invalid: (run) => {
    expect(run.status).toBe(TaskStatus.TASK_EXCEPTION);
    expect(attempt0(run)?.exception?.name).toBe('comfyui-invalid-workflow');
    expect(exceptionContent(attempt0(run)).node_errors).toEqual([expect.objectContaining({ node_id: '1', class_type: 'EmptyImage' })]);
  },
  execerr: (run) => {
    expect(run.status).toBe(TaskStatus.TASK_EXCEPTION);
    expect(attempt0(run)?.exception?.name).toBe('comfyui-execution-error');
    expect(exceptionContent(attempt0(run))).toMatchObject({ node_id: '3', node_type: 'SaveImage', exception_type: 'Exception' });
  },
  long: (run) => {
    expect(run.status).toBe(TaskStatus.TASK_SUCCESS);
    const result = resultOf(attempt0(run));
    expect(result.outputs).toEqual([expect.objectContaining({ node_id: '4', subfolder: 'realtest' })]);
    expectFilesOnDisk(result, workerEnv().COMFYUI_OUTPUT_DIR!);
  },
  'no-output-node': (run) => {
    expect(run.status).toBe(TaskStatus.TASK_EXCEPTION);
    expect(attempt0(run)?.exception?.name).toBe('comfyui-invalid-workflow');
    expect(exceptionContent(attempt0(run)).error).toMatchObject({ type: 'prompt_no_outputs' });
  },
  'one-output-invalid': async (run, worker) => {
    expect(run.status).toBe(TaskStatus.TASK_EXCEPTION);
    expect(attempt0(run)?.exception?.name).toBe('comfyui-invalid-workflow');
    expect(attempt0(run)?.exception?.message).toContain('node 3 (EmptyImage)');
    expect(exceptionContent(attempt0(run)).node_errors).toEqual([expect.objectContaining({ node_id: '3', dependent_outputs: ['4'] })]);
    // Taken off ComfyUI, unless its valid branch (one small image) was quicker than the worker's interrupt.
    const promptId = String(exceptionContent(attempt0(run)).prompt_id);
    const entry = await historyOf(comfy.url, promptId);
    const stopped = /(removed|interrupted) prompt/.test(attempt0(run)?.logOutput?.str ?? '');
    expect(stopped || entry?.status?.status_str === 'success').toBe(true);
    expect(await reportedPromptId(worker)).toBe(promptId);
  },
  'non-image': (run) => {
    expect(run.status).toBe(TaskStatus.TASK_SUCCESS);
    const result = resultOf(attempt0(run));
    expect(result.outputs).toEqual([expect.objectContaining({ node_id: '6', kind: 'images', animated: true, subfolder: 'realstack' })]);
    expect(result.outputs[0]!.filename).toMatch(/\.webp$/);
    expect(result.data).toEqual([expect.objectContaining({ node_id: '4', kind: 'text', value: ['hello, world'] })]);
    expectFilesOnDisk(result, workerEnv().COMFYUI_OUTPUT_DIR!);
  },
};

describe('every graph of test/comfyui-real/workflows on a real ComfyUI', () => {
  it('has an expected outcome for every graph', () => {
    expect(workflowNames().sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.keys(EXPECTED))('%s', async (name) => {
    const worker = await startWorker();
    const run = await finished(schedule(name === 'execerr' || name.includes('invalid') ? loadWorkflow(name) : fresh(name)));
    await EXPECTED[name]!(run, worker);
  });
});

describe('options and limits', () => {
  it('returns preview (temp) files when asked', async () => {
    await startWorker({ COMFYUI_INCLUDE_TEMP_OUTPUTS: 'true' });
    const run = await finished(schedule(fresh('ok')));
    expect(run.status).toBe(TaskStatus.TASK_SUCCESS);
    const temp = resultOf(attempt0(run)).outputs.filter((f) => f.type === 'temp');
    expect(temp).toEqual([expect.objectContaining({ node_id: '4', kind: 'images' })]);
    if (comfy.tempDir) expect(existsSync(path.join(comfy.tempDir, temp[0]!.subfolder, temp[0]!.filename))).toBe(true);
  });

  it('runs the valid part of a partly invalid graph when allowed, listing the skipped output', async () => {
    await startWorker({ COMFYUI_ALLOW_PARTIAL: 'true' });
    const run = await finished(schedule(fresh('one-output-invalid')));
    expect(run.status).toBe(TaskStatus.TASK_SUCCESS);
    const result = resultOf(attempt0(run));
    expect(result.outputs).toEqual([expect.objectContaining({ node_id: '2', subfolder: 'realstack' })]);
    expect(result.skipped_outputs).toEqual([
      { node_id: '4', class_type: 'SaveImage', errors: [expect.objectContaining({ node_id: '3', class_type: 'EmptyImage', type: 'value_smaller_than_min' })] },
    ]);
    expectFilesOnDisk(result, workerEnv().COMFYUI_OUTPUT_DIR!);
  });

  it('stops a running prompt at the deadline (interrupt) and waits for ComfyUI to let go of it', async () => {
    const worker = await startWorker();
    const run = await finished(schedule(fresh('long'), { timeoutSeconds: 2 }));
    expect(run.status).toBe(TaskStatus.TASK_FAILED);
    expect(attempt0(run)?.error?.message).toContain("Stopped before LittleHorse's TaskRun timeout");
    const promptId = await reportedPromptId(worker);
    await worker.waitForLog(event('interrupted-prompt-left'), 30_000);
    const entry = await historyOf(comfy.url, promptId);
    expect(entry?.status?.messages.map(([event]) => event)).toContain('execution_interrupted');
    expect(entry?.outputs).toEqual({});
  });

  it('takes a still-queued prompt off the queue at the deadline (dequeue)', async () => {
    const worker = await startWorker();
    const blocker = await submitDirectly(comfy.url, fresh('long'));
    await waitUntilRunning(comfy.url, blocker);
    const run = await finished(schedule(fresh('ok'), { timeoutSeconds: 2 }));
    expect(run.status).toBe(TaskStatus.TASK_FAILED);
    const promptId = await reportedPromptId(worker);
    expect(attempt0(run)?.logOutput?.str).toContain(`removed prompt ${promptId} from ComfyUI's queue`);
    expect(worker.logs.some(event('interrupted-prompt-waiting'))).toBe(false);
    await waitUntilGone(blocker);
    expect(await historyOf(comfy.url, promptId)).toBeUndefined(); // it never ran
  });
});

async function waitUntilGone(promptId: string): Promise<void> {
  for (let i = 0; i < 300 && !(await historyOf(comfy.url, promptId)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
}

describe('failures on the way', () => {
  it('SIGTERM mid-run: the task is reported TASK_FAILED, and its retry on a fresh worker succeeds', async () => {
    const first = await startWorker({ LHW_SHUTDOWN_GRACE_SEC: '1' });
    const run = schedule(fresh('long'), { retries: 1 });
    await waitUntilRunning(comfy.url);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await startWorker();
    const done = await finished(run);
    expect(done.attempts.map((a) => a.status)).toEqual([TaskStatus.TASK_FAILED, TaskStatus.TASK_SUCCESS]);
    const result = resultOf(done.attempts[1]);
    expectFilesOnDisk(result, workerEnv().COMFYUI_OUTPUT_DIR!);
    expect(result.outputs).toHaveLength(1);
  });

  it('a cached re-run reports the earlier file; with a folder per task each task reports its own', async () => {
    await startWorker();
    const graph = fresh('ok');
    const first = resultOf(attempt0(await finished(schedule(graph))));
    const again = await finished(schedule(graph));
    expect(again.status).toBe(TaskStatus.TASK_SUCCESS);
    expect(resultOf(attempt0(again)).outputs.map((f) => f.path)).toEqual(first.outputs.map((f) => f.path));

    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await startWorker({ COMFYUI_OUTPUT_PER_TASK: 'true' });
    const own = await Promise.all([schedule(graph), schedule(graph)].map(async (r) => resultOf(attempt0(await finished(r)))));
    const paths = own.flatMap((r) => r.outputs.map((f) => f.path));
    expect(new Set(paths).size).toBe(2);
    for (const result of own) {
      expect(result.outputs[0]!.subfolder).toMatch(/^task-.+\/realtest$/);
      expectFilesOnDisk(result, workerEnv().COMFYUI_OUTPUT_DIR!);
    }
  });

  it('the WebSocket dropped mid-run: the worker reconnects and reports the result', async () => {
    const target = new URL(comfy.url);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.start();
    try {
      await startWorker({ COMFYUI_BASE_URL: proxy.url, COMFYUI_WATCHDOG_INTERVAL_SEC: '60' });
      const run = schedule(fresh('long'));
      await waitUntilRunning(comfy.url);
      proxy.dropAll();
      const done = await finished(run);
      expect(done.status).toBe(TaskStatus.TASK_SUCCESS);
      expectFilesOnDisk(resultOf(attempt0(done)), workerEnv().COMFYUI_OUTPUT_DIR!);
    } finally {
      await proxy.stop();
    }
  });

  it('downloads every output through /view with COMFYUI_DOWNLOAD_OUTPUTS=true', async () => {
    const downloads = tempFolder('view');
    await startWorker({ COMFYUI_DOWNLOAD_OUTPUTS: 'true', COMFYUI_OUTPUT_DIR: downloads, COMFYUI_INCLUDE_TEMP_OUTPUTS: 'true' });
    const done = await finished(schedule(fresh('ok')));
    expect(done.status).toBe(TaskStatus.TASK_SUCCESS);
    const result = resultOf(attempt0(done));
    expect(result.outputs).toHaveLength(2);
    for (const file of result.outputs) {
      expect(file.path!.startsWith(downloads)).toBe(true);
      const original = file.type === 'output' ? comfy.outputDir : comfy.tempDir;
      if (original) expect(readFileSync(file.path!)).toEqual(readFileSync(path.join(original, file.subfolder, file.filename)));
    }
    expect([...filesUnder(downloads).keys()].sort()).toEqual(result.outputs.map((f) => path.relative(downloads, f.path!)).sort());
  });

  it('ComfyUI killed mid-run: the task fails for LittleHorse to retry, and once it is back the next task runs', async (context) => {
    if (!comfy.owned) context.skip(); // only a ComfyUI this suite started can be killed (REAL_COMFYUI_DIR)
    await startWorker({ COMFYUI_HTTP_RETRIES: '1' });
    const lost = schedule(fresh('long'));
    await waitUntilRunning(comfy.url);
    await comfy.kill();
    const restarted = comfy.start();
    const done = await finished(lost);
    expect(done.status).toBe(TaskStatus.TASK_FAILED);
    expect(done.attempts[0]?.error?.message).toMatch(/ComfyUI/);
    await restarted;
    const next = await finished(schedule(fresh('ok')));
    expect(next.status).toBe(TaskStatus.TASK_SUCCESS);
    expectFilesOnDisk(resultOf(attempt0(next)), workerEnv().COMFYUI_OUTPUT_DIR!);
  });
});
