import { VariableType } from 'littlehorse-client/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { event, message, spawnWorker, type WorkerProcess } from './support/worker-process.js';
import { type Stack, startStack, TASK_NAME } from './support/stack.js';

let stack: Stack | undefined;
let worker: WorkerProcess | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await stack?.stop();
  stack = undefined;
});

const started = async (options: Parameters<typeof startStack>[0] = {}) => (stack = await startStack(options));
const run = (env: Record<string, string>) => (worker = spawnWorker(stack!.env(env)));

describe('job mode', () => {
  it('exits 0 once no task has come for LHW_IDLE_EXIT_SEC', async () => {
    await started();
    const t0 = Date.now();
    run({ LHW_RUN_MODE: 'job', LHW_IDLE_EXIT_SEC: '1' });
    expect(await worker!.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('exits 0 after LHW_MAX_TASKS tasks, leaving the rest queued', async () => {
    await started();
    const runs = [stack!.schedule(), stack!.schedule(), stack!.schedule()];
    run({ LHW_RUN_MODE: 'job', LHW_MAX_TASKS: '2', LHW_IDLE_EXIT_SEC: '30' });
    expect(await worker!.exited).toBe(0);
    expect(runs.map((r) => r.status)).toEqual(['TASK_SUCCESS', 'TASK_SUCCESS', 'TASK_SCHEDULED']);
  });

  it('stops early enough to report within LHW_MAX_RUNTIME_SEC', async () => {
    await started({ comfy: { runTimeMs: 10_000 } });
    const t0 = Date.now();
    run({ LHW_RUN_MODE: 'job', LHW_MAX_RUNTIME_SEC: '5', LHW_SHUTDOWN_GRACE_SEC: '1', LHW_IDLE_EXIT_SEC: '60' });
    await worker!.waitForLog(event('worker-ready'));
    const task = stack!.schedule();
    expect(await worker!.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(task.status).toBe('TASK_FAILED');
    expect(task.attempts[0]!.error?.message).toContain('LHW_MAX_RUNTIME_SEC');
  });
});

describe('shutdown', () => {
  it('stops the task on ComfyUI and reports TASK_FAILED when it outlasts the grace period', async () => {
    await started({ comfy: { runTimeMs: 10_000 } });
    run({ LHW_SHUTDOWN_GRACE_SEC: '1' });
    await worker!.waitForLog(event('worker-ready'));
    const task = stack!.schedule();
    await new Promise<void>((resolve) => stack!.comfy.events.once('started', () => resolve()));
    worker!.child.kill('SIGTERM');
    expect(await worker!.exited).toBe(0);
    expect(task.status).toBe('TASK_FAILED');
    expect(task.attempts[0]!.error?.message).toContain('LHW_SHUTDOWN_GRACE_SEC');
    expect(stack!.comfy.stats.interrupts).toHaveLength(1);
  });

  it('exits at once on a second signal', async () => {
    await started({ comfy: { runTimeMs: 10_000 } });
    run({ LHW_SHUTDOWN_GRACE_SEC: '30' });
    await worker!.waitForLog(event('worker-ready'));
    stack!.schedule();
    await new Promise<void>((resolve) => stack!.comfy.events.once('started', () => resolve()));
    worker!.child.kill('SIGTERM');
    await worker!.waitForLog(event('stopping'));
    worker!.child.kill('SIGTERM');
    expect(await worker!.exited).toBe(130);
  });
});

describe('start-up', () => {
  it('waits for ComfyUI to answer before taking work', async () => {
    await started();
    await stack!.comfy.down();
    run({});
    await worker!.waitForLog(event('dependency-waiting', { dependency: 'ComfyUI' }));
    expect(stack!.lh.stats.pollRequests).toBe(0);
    await stack!.comfy.up();
    await worker!.waitForLog(event('worker-ready'));
  });

  it('exits 4 when ComfyUI does not answer within COMFYUI_START_TIMEOUT_SEC', async () => {
    await started();
    await stack!.comfy.down();
    run({ COMFYUI_START_TIMEOUT_SEC: '1' });
    expect(await worker!.exited).toBe(4);
  });

  it('exits 5 when the TaskDef exists with another shape', async () => {
    await started();
    stack!.lh.putTaskDef({ name: TASK_NAME, inputVars: [{ name: 'prompt', typeDef: { type: VariableType.STR, masked: false } }], returnType: undefined });
    run({});
    expect(await worker!.exited).toBe(5);
    expect(worker!.logs.some(message('lhctl delete taskDef'))).toBe(true);
  });
});
