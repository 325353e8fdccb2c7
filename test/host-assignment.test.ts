import { createChannel, createClientFactory, Metadata } from 'nice-grpc';
import { LittleHorseDefinition } from 'littlehorse-client/proto';
import { describe, expect, it } from 'vitest';
import { event } from './support/worker-process.js';
import { type Stack, TASK_NAME } from './support/stack.js';
import { stackFixture } from './support/stack-fixture.js';

// Each test waits for one or two heartbeats: once a second here, instead of every 5 s.
const fixture = stackFixture();
const ready = (env: Record<string, string> = {}) => fixture.ready({ LHW_HEARTBEAT_INTERVAL_SEC: '1', ...env });
let stack: Stack | undefined;

const until = async (what: string, condition: () => boolean, timeoutMs = 15_000) => {
  for (const giveUpAt = Date.now() + timeoutMs; !condition(); await new Promise((resolve) => setTimeout(resolve, 20))) {
    if (Date.now() > giveUpAt) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
  }
};
const openAt = (address: string) => stack!.lh.stats.openPollStreamsAt[address] ?? 0;
const runOn = async (instance: number) => {
  const run = stack!.lh.scheduleTask({ taskDefName: TASK_NAME, variables: { workflow: { jsonObj: JSON.stringify({ '9': { class_type: 'PreviewAny', inputs: { source: 'hi' } } }) } }, instance });
  return (await stack!.lh.waitForTaskRun(run.id)).status;
};

/** Another worker's heartbeat: RoundRobinAssignor then splits the hosts between the two. */
const registerOtherWorker = async (address: string, taskWorkerId: string) => {
  const channel = createChannel(address);
  const other = createClientFactory()
    .use(async function* (call, options) {
      return yield* call.next(call.request, { ...options, metadata: Metadata(options.metadata).set('tenantid', 'default') });
    })
    .create(LittleHorseDefinition, channel);
  await other.registerTaskWorker({ taskWorkerId, taskDefId: { name: TASK_NAME } });
  channel.close();
};

describe('hosts RegisterTaskWorker assigns', () => {
  it('serves tasks queued on every host it is assigned, with one request at a time', async () => {
    stack = await fixture.start({ lh: { hostCount: 2 } });
    await ready();
    const [first, second] = stack.lh.addresses as [string, string];
    expect(await runOn(1)).toBe('TASK_SUCCESS');
    expect(await runOn(0)).toBe('TASK_SUCCESS');
    expect(stack.lh.stats.pollRequestsAt[first]).toBeGreaterThan(0);
    expect(stack.lh.stats.pollRequestsAt[second]).toBeGreaterThan(0);
    expect(stack.lh.parkedRequests()).toBeLessThanOrEqual(1);
  });

  it('stops polling a host that is reassigned to another worker, and keeps taking tasks from the other', async () => {
    stack = await fixture.start({ lh: { hostCount: 2, workerInactivityMs: 60_000 } });
    const worker = await ready({ LHW_TASK_WORKER_ID: 'worker-a' });
    const [kept, reassigned] = stack.lh.addresses as [string, string];
    // A second worker joins: RoundRobinAssignor now gives worker-a the first host and worker-b the second.
    await registerOtherWorker(kept, 'worker-b');
    await worker.waitForLog(event('host-dropped', { address: reassigned }), 10_000);
    await until('worker-a closing its stream to the reassigned host', () => openAt(reassigned) === 0);
    const requestsThere = stack.lh.stats.pollRequestsAt[reassigned] ?? 0;
    expect(await runOn(0)).toBe('TASK_SUCCESS');
    expect(await runOn(0)).toBe('TASK_SUCCESS');
    expect(stack.lh.stats.pollRequestsAt[reassigned] ?? 0).toBe(requestsThere);
  });

  it('reports a task through the bootstrap server when its host is reassigned while it runs, without reopening that host', async () => {
    stack = await fixture.start({ lh: { hostCount: 2, workerInactivityMs: 60_000 }, comfy: { runTimeMs: 8_000 } });
    const worker = await ready({ LHW_TASK_WORKER_ID: 'worker-a' });
    const [bootstrap, reassigned] = stack.lh.addresses as [string, string];
    const finished = runOn(1);
    await new Promise<void>((resolve) => stack!.comfy.events.once('started', () => resolve()));
    await registerOtherWorker(bootstrap, 'worker-b');
    await worker.waitForLog(event('host-dropped', { address: reassigned }), 10_000);
    expect(await finished).toBe('TASK_SUCCESS');
    expect(stack.lh.stats.reportsAt[bootstrap]).toBe(1);
    expect(stack.lh.stats.reportsAt[reassigned] ?? 0).toBe(0);
  });

  it('stops polling a host that leaves the cluster and polls the one that joins', async () => {
    stack = await fixture.start({ lh: { hostCount: 2 } });
    const worker = await ready();
    const leaving = stack.lh.addresses[1]!;
    await stack.lh.setHostCount(1);
    await worker.waitForLog(event('host-dropped', { address: leaving }), 10_000);
    expect(await runOn(0)).toBe('TASK_SUCCESS');

    await stack.lh.setHostCount(2);
    const joined = stack.lh.addresses[1]!;
    await worker.waitForLog(event('host-added', { address: joined }), 10_000);
    expect(await runOn(1)).toBe('TASK_SUCCESS');
  });

  it('keeps its streams while LittleHorse answers heartbeats with no hosts and an unhealthy cluster', async () => {
    stack = await fixture.start({ lh: { hostCount: 2 } });
    const worker = await ready();
    const heartbeats = stack.lh.stats.calls.registerTaskWorker ?? 0;
    stack.lh.unhealthyHeartbeats(2);
    await until('two unhealthy heartbeats and a healthy one', () => (stack!.lh.stats.calls.registerTaskWorker ?? 0) >= heartbeats + 3);
    await worker.waitForLog(event('rebalancing'));
    expect(worker.logs.filter(event('host-dropped'))).toEqual([]);
    expect(await runOn(1)).toBe('TASK_SUCCESS');
    expect(await runOn(0)).toBe('TASK_SUCCESS');
  });
});
