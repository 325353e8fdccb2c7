import { createChannel, createClient, Status } from 'nice-grpc';
import { type TaskRunId, TaskStatus } from 'littlehorse-client/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeLittleHorse, startFakeLittleHorse } from '../devstack/littlehorse/index.js';
import { DEFAULT_PARTITIONS, partitionOf } from '../devstack/littlehorse/search.js';
import { backlogGauge, type BacklogClient, measureBacklog } from '../lib/littlehorse/backlog.js';
import { LittleHorseService } from '../lib/littlehorse/count-task-run.js';
import { stackFixture } from './support/stack-fixture.js';
import { TASK_NAME } from './support/stack.js';

let lh: FakeLittleHorse | undefined;
afterEach(async () => {
  await lh?.stop();
  lh = undefined;
});

const workflow = { workflow: { jsonObj: '{}' } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const key = (id: TaskRunId | undefined) => `${id?.wfRunId?.id}/${id?.taskGuid}`;

async function start(options: Parameters<typeof startFakeLittleHorse>[0] = {}) {
  lh = await startFakeLittleHorse(options);
  return createClient(LittleHorseService, createChannel(`${lh.host}:${lh.port}`));
}

/** The client, counting the calls made through it. */
function counted(client: BacklogClient) {
  const calls = { countTaskRun: 0, searchTaskRun: 0, getTaskRun: 0 };
  const spy: BacklogClient = {
    countTaskRun: (...args) => (calls.countTaskRun++, client.countTaskRun(...args)),
    searchTaskRun: (...args) => (calls.searchTaskRun++, client.searchTaskRun(...args)),
    getTaskRun: (...args) => (calls.getTaskRun++, client.getTaskRun(...args)),
  };
  return { spy, calls };
}

/** A WfRunId the double files under the given partition, so a test can place a task on purpose. */
function wfRunIdIn(partition: number, tag: string): string {
  for (let i = 0; ; i++) if (partitionOf(`${tag}${i}`, DEFAULT_PARTITIONS) === partition) return `${tag}${i}`;
}

describe('SearchTaskRun on the LittleHorse double, as the server pages it', () => {
  it('returns every waiting TaskRun exactly once across pages of 7, then no bookmark', async () => {
    const client = await start();
    const ids = Array.from({ length: 25 }, () => key(lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow }).id));
    lh!.scheduleTask({ taskDefName: 'another-task', variables: workflow });
    const seen: string[] = [];
    let bookmark: Buffer | undefined;
    let pages = 0;
    do {
      const page = await client.searchTaskRun({ taskDefName: TASK_NAME, status: TaskStatus.TASK_SCHEDULED, limit: 7, bookmark });
      expect(page.results.length).toBeLessThanOrEqual(7);
      seen.push(...page.results.map(key));
      bookmark = page.bookmark;
      pages++;
    } while (bookmark && bookmark.length > 0);
    expect(seen.sort()).toEqual(ids.sort());
    expect(pages).toBeGreaterThanOrEqual(4);
  });

  it('answers 100 per page when no limit is given (PublicScanRequest.getLimit)', async () => {
    const client = await start();
    for (let i = 0; i < 130; i++) lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow });
    const page = await client.searchTaskRun({ taskDefName: TASK_NAME, status: TaskStatus.TASK_SCHEDULED });
    expect(page.results).toHaveLength(100);
    expect(page.bookmark?.length).toBeGreaterThan(0);
  });

  it('orders a partition by scheduledAt but not the partitions among themselves', async () => {
    const client = await start();
    const oldest = lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow, wfRunId: wfRunIdIn(DEFAULT_PARTITIONS - 1, 'old') });
    await sleep(5);
    lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow, wfRunId: wfRunIdIn(0, 'new') });
    const first = await client.searchTaskRun({ taskDefName: TASK_NAME, status: TaskStatus.TASK_SCHEDULED, limit: 1 });
    expect(key(first.results[0])).not.toBe(oldest.key);
    const earlier = await client.searchTaskRun({
      taskDefName: TASK_NAME,
      status: TaskStatus.TASK_SCHEDULED,
      latestStart: oldest.scheduledAt.toISOString(),
      limit: 1,
    });
    expect(earlier.results.map(key)).toEqual([oldest.key]);
  });
});

describe('the backlog: TaskRuns of our TaskDef waiting in LittleHorse', () => {
  it('counts every waiting task over several pages and finds the oldest, wherever its partition', async () => {
    const client = await start();
    const oldest = lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow, wfRunId: wfRunIdIn(DEFAULT_PARTITIONS - 1, 'old') });
    await sleep(20);
    for (let i = 0; i < 24; i++) lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow });
    const now = oldest.scheduledAt.getTime() + 60_000;
    const backlog = await measureBacklog(client, TASK_NAME, { pageSize: 7, now: () => now });
    expect(backlog).toEqual({ count: 25, oldestAgeMs: 60_000 });
  });

  it('stops counting at maxCount', async () => {
    const client = await start();
    for (let i = 0; i < 30; i++) lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow });
    expect((await measureBacklog(client, TASK_NAME, { pageSize: 7, maxCount: 10 })).count).toBe(10);
  });

  it('is zero with no age when nothing waits', async () => {
    const client = await start();
    expect(await measureBacklog(client, TASK_NAME)).toEqual({ count: 0, oldestAgeMs: undefined });
  });
});

describe('CountTaskRun (LittleHorse 1.2+): the backlog from one counter', () => {
  it('counts every waiting task in one call, past the cap a page count would stop at', async () => {
    const { spy, calls } = counted(await start());
    for (let i = 0; i < 30; i++) lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow });
    const backlog = await backlogGauge(spy, TASK_NAME, { pageSize: 7, maxCount: 10 })();
    expect(backlog.count).toBe(30);
    expect(calls.countTaskRun).toBe(1);
    // Only the walk to the oldest searches: one unbounded limit-1 search to start it, then one per step.
    expect(calls.searchTaskRun).toBeLessThanOrEqual(1 + DEFAULT_PARTITIONS);
  });

  it('falls back to counting pages on a server without it, and stops asking after the first UNIMPLEMENTED', async () => {
    const { spy, calls } = counted(await start({ countTaskRun: false }));
    for (let i = 0; i < 30; i++) lh!.scheduleTask({ taskDefName: TASK_NAME, variables: workflow });
    const gauge = backlogGauge(spy, TASK_NAME, { pageSize: 7 });
    expect((await gauge()).count).toBe(30);
    expect((await gauge()).count).toBe(30);
    expect(calls.countTaskRun).toBe(1);
  });

  it('is refused for any status but TASK_SCHEDULED, as the server does', async () => {
    const client = await start();
    await expect(client.countTaskRun({ taskDefName: TASK_NAME, status: TaskStatus.TASK_RUNNING })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
  });
});

describe('the backlog published by a worker (COMFYUI_WORKER_BACKLOG_INTERVAL_SEC)', () => {
  const fixture = stackFixture();

  it('prints BacklogCount and BacklogAge lines that leave out the task the worker holds', async () => {
    const stack = await fixture.start({ comfy: { runTimeMs: 5_000 } });
    const worker = await fixture.ready({ COMFYUI_WORKER_METRICS: 'emf', COMFYUI_WORKER_BACKLOG_INTERVAL_SEC: '1' });
    stack.schedule();
    await new Promise<void>((resolve) => stack.comfy.events.once('started', () => resolve()));
    const waiting = [stack.schedule(), stack.schedule(), stack.schedule()];
    const line = await worker.waitForLog((l) => typeof l._aws === 'object' && l.BacklogCount === 3, 10_000);
    expect(line).toMatchObject({ TaskDef: TASK_NAME });
    const ageSec = line.BacklogAge as number;
    expect(ageSec).toBeGreaterThanOrEqual(0);
    expect(ageSec).toBeLessThanOrEqual(Math.ceil((Date.now() - waiting[0]!.scheduledAt.getTime()) / 1000));
  });
});
