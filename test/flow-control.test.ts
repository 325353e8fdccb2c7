import path from 'node:path';
import { Status } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import type { FakeTaskRun } from '../devstack/littlehorse/index.js';
import { stackFixture } from './support/stack-fixture.js';
import { type Stack, TASK_NAME } from './support/stack.js';
import { spawnWorker, type WorkerProcess } from './support/worker-process.js';

const fixture = stackFixture();
let stack: Stack;
const extraComfys: FakeComfy[] = [];
afterEach(async () => {
  await Promise.all(extraComfys.splice(0).map((c) => c.stop()));
});

const started = (comfy: FakeComfy) => new Promise<void>((resolve) => comfy.events.once('started', () => resolve()));
const finished = (run: FakeTaskRun) => stack.lh.waitForTaskRun(run.id, 20_000);
const onInstance = (instance: number, options: { timeoutSeconds?: number; retries?: number } = {}) =>
  stack.lh.scheduleTask({
    taskDefName: TASK_NAME,
    variables: { workflow: { jsonObj: JSON.stringify({ '9': { class_type: 'PreviewAny', inputs: { source: 'hi' } } }) } },
    instance,
    ...options,
  });

describe('a busy worker never holds a task', () => {
  it('has no PollTask request parked while it runs a task', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 1_500 } });
    await fixture.ready();
    const run = stack.schedule();
    await started(stack.comfy);
    const requestsAtStart = stack.lh.stats.pollRequests;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stack.lh.parkedRequests()).toBe(0);
    expect(stack.lh.stats.pollRequests).toBe(requestsAtStart);
    expect((await finished(run)).status).toBe('TASK_SUCCESS');
    // Idle again: exactly one request waits for the next task.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stack.lh.parkedRequests()).toBe(1);
  });

  it('lets a third task go to the worker that frees first, not to the one that is still busy', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 4_000 } });
    const fast = await startFakeComfy({ runTimeMs: 300 });
    extraComfys.push(fast);
    await fixture.ready({ LHW_TASK_WORKER_ID: 'slow-worker' });
    const slowRun = stack.schedule();
    await started(stack.comfy);
    await fixture.ready({ LHW_TASK_WORKER_ID: 'fast-worker', COMFYUI_BASE_URL: fast.url, COMFYUI_OUTPUT_DIR: fast.outputDir });
    const fastRun = stack.schedule();
    await started(fast);

    const third = stack.schedule();
    const done = await finished(third);
    expect(done.status).toBe('TASK_SUCCESS');
    expect(done.attempts[0]!.taskWorkerId).toBe('fast-worker');
    expect(fastRun.attempts[0]!.taskWorkerId).toBe('fast-worker');
    // The slow machine was still on its first task when the third one was done.
    expect(slowRun.status).toBe('TASK_RUNNING');
  });

  it('with two LittleHorse hosts, leaves a task queued on the other host unclaimed until it is free', async () => {
    stack = await fixture.start({ lh: { hostCount: 2 }, comfy: { runTimeMs: 2_000 } });
    await fixture.ready({ LHW_TIMEOUT_MARGIN_SEC: '1' });
    const first = onInstance(0);
    await started(stack.comfy);
    // Claimed by the busy worker now, this one would run out of time (4 s from claim, less a 1 s margin) before it finished.
    const second = onInstance(1, { timeoutSeconds: 4 });
    expect((await finished(first)).status).toBe('TASK_SUCCESS');
    expect((await finished(second)).status).toBe('TASK_SUCCESS');
    expect(second.attempts).toHaveLength(1);
    expect(second.attempts[0]!.startTime!.getTime()).toBeGreaterThanOrEqual(first.attempts[0]!.endTime!.getTime());
  });

  it('hands a task that still arrives while another is in hand back at once, as TASK_FAILED that LittleHorse retries', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 2_000 } });
    await fixture.ready();
    const inHand = stack.schedule();
    await started(stack.comfy);
    const surplus = stack.schedule(undefined, { retries: 1 });
    expect(stack.lh.handOutUnasked(0)).toBe(surplus);
    const report = await stack.lh.nextReport(surplus.id, 1_500);
    expect(report.status).toBe('TASK_FAILED');
    expect(report.error?.message).toContain('already running another task');
    expect(inHand.status).toBe('TASK_RUNNING');
    expect((await finished(inHand)).status).toBe('TASK_SUCCESS');
    // The retry is taken once the worker is free.
    expect((await finished(surplus)).status).toBe('TASK_SUCCESS');
  });
});

describe('stopping', () => {
  it('sends no PollTaskRequest after SIGTERM, with a task in hand', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 1_000 } });
    const worker = await fixture.ready();
    const run = stack.schedule();
    await started(stack.comfy);
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(run.status).toBe('TASK_SUCCESS');
    expect(stack.lh.stats.pollRequestTimes.filter((t) => t >= signalledAt)).toEqual([]);
  });

  it('withdraws its parked request on SIGTERM, so no task is claimed for a worker that is leaving', async () => {
    stack = await fixture.start();
    const worker = await fixture.ready();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stack.lh.parkedRequests()).toBe(1);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(stack.lh.parkedRequests()).toBe(0);
    const run = stack.schedule();
    expect(run.status).toBe('TASK_SCHEDULED');
  });

  it('delivers the report within grace + 2 s of SIGTERM even when LittleHorse is slow to answer, and exits 6 when it could not', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 10_000 } });
    const worker = await fixture.ready({ LHW_SHUTDOWN_GRACE_SEC: '1' });
    stack.schedule();
    await started(stack.comfy);
    stack.lh.failNextReports(1_000, Status.UNAVAILABLE);
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(6);
    // 1 s of grace, then 2 s for cleanup and the report; a little slack for process exit on a busy machine.
    expect(Date.now() - signalledAt).toBeLessThan(1_000 + 2_000 + 1_500);
    expect(stack.lh.stats.reportTimes.at(-1)! - signalledAt).toBeLessThan(3_000);
  });
});

describe('an error nothing caught', () => {
  let crashing: WorkerProcess | undefined;
  afterEach(async () => {
    await crashing?.stop();
    crashing = undefined;
  });

  it('stops and reports the task in hand, then exits 1', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 10_000 } });
    crashing = spawnWorker(stack.env({ NODE_OPTIONS: `--require ${path.resolve(import.meta.dirname, 'fixtures/throw-on-sigusr2.cjs')}` }));
    await crashing.waitForLog((line) => String(line.message).includes('worker ready'));
    const run = stack.schedule();
    await started(stack.comfy);
    crashing.child.kill('SIGUSR2');
    expect(await crashing.exited).toBe(1);
    expect(run.status).toBe('TASK_FAILED');
    expect(run.attempts[0]!.error?.message).toContain('unexpected error');
    const logged = crashing.logs.find((line) => line.level === 'ERROR' && JSON.stringify(line.error ?? '').includes('a listener blew up'));
    expect(logged).toBeDefined();
  });
});
