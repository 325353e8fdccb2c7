import { existsSync } from 'node:fs';
import { TaskStatus } from 'littlehorse-client/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnWorker, type WorkerProcess, event } from './support/worker-process.js';
import { type Stack, startStack, TASK_NAME } from './support/stack.js';

let stack: Stack;
let worker: WorkerProcess | undefined;
beforeEach(async () => {
  stack = await startStack();
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await stack.stop();
});

const startWorker = async (extra: Record<string, string> = {}) => {
  worker = spawnWorker(stack.env(extra));
  await worker.waitForLog(event('worker-ready'));
  return worker;
};
const json = (text: string | undefined) => JSON.parse(text ?? 'null') as Record<string, unknown>;

describe('the bundled worker, end to end', () => {
  it('creates its TaskDef with one JSON_OBJ input named workflow', async () => {
    await startWorker();
    const taskDef = stack.lh.taskDefs().find((t) => t.id?.name === TASK_NAME);
    expect(taskDef?.inputVars.map((v) => v.name)).toEqual(['workflow']);
  });

  it('runs a workflow that comes in through LittleHorse and reports TASK_SUCCESS with its outputs', async () => {
    await startWorker();
    const run = stack.schedule();
    const done = await stack.lh.waitForTaskRun(run.id);
    expect(done.status).toBe(TaskStatus.TASK_SUCCESS);
    const attempt = done.attempts[0]!;
    const result = json(attempt.output?.jsonObj) as { prompt_id: string; outputs: Array<{ path: string; node_id: string }> };
    expect(result.prompt_id).toMatch(/.+/);
    expect(result.outputs[0]?.node_id).toBe('9');
    expect(existsSync(result.outputs[0]!.path)).toBe(true);
    expect(attempt.logOutput?.str).toContain('submit workflow');
    expect(attempt.logOutput?.str).toContain('workflow complete');
  });

  it('reports an invalid workflow as TASK_EXCEPTION comfyui-invalid-workflow', async () => {
    await startWorker();
    const run = stack.schedule({ '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } }, '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'x' } } });
    const done = await stack.lh.waitForTaskRun(run.id);
    expect(done.status).toBe(TaskStatus.TASK_EXCEPTION);
    const exception = done.attempts[0]!.exception!;
    expect(exception.name).toBe('comfyui-invalid-workflow');
    expect(json(exception.content?.jsonObj).node_errors).toBeDefined();
  });

  it('reports a node failure as TASK_EXCEPTION comfyui-execution-error', async () => {
    await startWorker();
    stack.comfy.script({ kind: 'error', nodeId: '8', exceptionType: 'RuntimeError', message: 'boom' });
    const done = await stack.lh.waitForTaskRun(stack.schedule().id);
    expect(done.status).toBe(TaskStatus.TASK_EXCEPTION);
    expect(done.attempts[0]!.exception).toMatchObject({ name: 'comfyui-execution-error' });
    expect(done.attempts[0]!.exception!.message).toContain('8 (VAEDecode)');
  });

  it('reports ComfyUI down as TASK_FAILED, which LittleHorse retries', async () => {
    await startWorker({ COMFYUI_HTTP_RETRIES: '0' });
    await stack.comfy.down();
    const done = await stack.lh.waitForTaskRun(stack.schedule().id, 20_000);
    expect(done.status).toBe(TaskStatus.TASK_FAILED);
    expect(done.attempts[0]!.error?.message).toMatch(/ComfyUI/);
  });

  it('still reports the task in hand after SIGTERM, then exits 0', async () => {
    stack.comfy.runTimeMs = 800;
    await startWorker();
    const run = stack.schedule();
    await new Promise<void>((resolve) => stack.comfy.events.once('started', () => resolve()));
    worker!.child.kill('SIGTERM');
    const done = await stack.lh.waitForTaskRun(run.id);
    expect(done.status).toBe(TaskStatus.TASK_SUCCESS);
    expect(await worker!.exited).toBe(0);
  });

  it('exits 2 naming each missing variable, without a stack trace', async () => {
    worker = spawnWorker({ LHW_NUM_WORKER_THREADS: '3' });
    expect(await worker.exited).toBe(2);
    for (const name of ['COMFYUI_BASE_URL', 'COMFYUI_OUTPUT_DIR', 'LHW_TASK_NAME', 'LHW_NUM_WORKER_THREADS']) {
      expect(worker.stderr()).toContain(name);
    }
    expect(worker.stderr()).not.toMatch(/\n\s+at /);
  });
});
