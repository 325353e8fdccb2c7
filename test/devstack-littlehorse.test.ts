import { ClientError, createChannel, createClientFactory, Metadata, Status } from 'nice-grpc';
import { LittleHorseDefinition, TaskStatus, VariableType, type PollTaskResponse } from 'littlehorse-client/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeLittleHorse, startFakeLittleHorse } from '../devstack/littlehorse/index.js';

let lh: FakeLittleHorse;
beforeEach(async () => {
  lh = await startFakeLittleHorse({ tenants: ['default', 'acme'] });
});
afterEach(async () => {
  await lh.stop();
});

const clientFor = (tenant = 'default') =>
  createClientFactory()
    .use(async function* (call, options) {
      return yield* call.next(call.request, { ...options, metadata: Metadata(options.metadata).set('tenantid', tenant) });
    })
    .create(LittleHorseDefinition, createChannel(`${lh.host}:${lh.port}`));
const taskDef = { name: 'work', inputVars: [{ name: 'x', typeDef: { type: VariableType.JSON_OBJ, masked: false } }], returnType: undefined };
const schedule = (options: { timeoutSeconds?: number; retries?: number } = {}) =>
  lh.scheduleTask({ taskDefName: 'work', variables: { x: { jsonObj: '{ "a" : 1 }' } }, ...options });

/** A PollTask stream whose requests the test sends one at a time. */
function poller() {
  const abort = new AbortController();
  let push: () => void = () => {};
  let pending = 0;
  const responses: PollTaskResponse[] = [];
  async function* requests() {
    for (;;) {
      while (pending === 0) await new Promise<void>((resolve) => (push = resolve));
      pending--;
      yield { taskDefId: { name: 'work' }, clientId: 'w1' };
    }
  }
  const done = (async () => {
    for await (const response of clientFor().pollTask(requests(), { signal: abort.signal })) responses.push(response);
  })().catch((error: unknown) => error);
  return { responses, done, ask: () => (pending++, push()), close: () => abort.abort() };
}
const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
};

describe('the LittleHorse double', () => {
  it('answers an identical PutTaskDef with the stored one and a different one with ALREADY_EXISTS', async () => {
    const client = clientFor();
    await client.putTaskDef(taskDef);
    await expect(client.putTaskDef(taskDef)).resolves.toMatchObject({ id: { name: 'work' } });
    const error = await client.putTaskDef({ ...taskDef, inputVars: [] }).catch((e: unknown) => e);
    expect((error as ClientError).code).toBe(Status.ALREADY_EXISTS);
  });

  it('parks a poll request until a task is scheduled, then delivers it once, compactly re-serialized', async () => {
    const p = poller();
    p.ask();
    await until(() => lh.stats.pollRequests === 1);
    schedule();
    schedule();
    await until(() => p.responses.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(p.responses).toHaveLength(1); // one request, at most one task
    expect(p.responses[0]!.result!.variables[0]!.value!.jsonObj).toBe('{"a":1}');
    p.close();
  });

  it('times a claimed attempt out and hands the task out again as the next attempt', async () => {
    const run = schedule({ timeoutSeconds: 1, retries: 1 });
    const p = poller();
    p.ask();
    await until(() => p.responses.length === 1);
    p.ask();
    await until(() => p.responses.length === 2);
    expect(p.responses[1]!.result!.attemptNumber).toBe(1);
    expect(run.attempts[0]!.status).toBe(TaskStatus.TASK_TIMEOUT);
    p.close();
  });

  it('ignores a report that comes after the timeout', async () => {
    const run = schedule({ timeoutSeconds: 1 });
    const p = poller();
    p.ask();
    await until(() => p.responses.length === 1);
    await lh.waitForTaskRun(run.id, 3_000);
    await clientFor().reportTask({ taskRunId: run.id, attemptNumber: 0, time: new Date().toISOString(), status: TaskStatus.TASK_SUCCESS });
    expect(run.status).toBe(TaskStatus.TASK_TIMEOUT);
    expect(run.attempts[0]!.reports).toHaveLength(1);
    p.close();
  });

  it('refuses a TASK_EXCEPTION report without an exception', async () => {
    const run = schedule();
    const p = poller();
    p.ask();
    await until(() => p.responses.length === 1);
    const error = await clientFor()
      .reportTask({ taskRunId: run.id, attemptNumber: 0, time: new Date().toISOString(), status: TaskStatus.TASK_EXCEPTION })
      .catch((e: unknown) => e);
    expect((error as ClientError).code).toBe(Status.INVALID_ARGUMENT);
    p.close();
  });

  it('keeps tenants apart and refuses an unknown one', async () => {
    await clientFor('acme').putTaskDef(taskDef);
    expect(((await clientFor().getTaskDef({ name: 'work' }).catch((e: unknown) => e)) as ClientError).code).toBe(Status.NOT_FOUND);
    expect(((await clientFor('nobody').getTaskDef({ name: 'work' }).catch((e: unknown) => e)) as ClientError).code).toBe(Status.PERMISSION_DENIED);
  });

  it('ends open PollTask streams with the injected status', async () => {
    const p = poller();
    p.ask();
    await until(() => lh.stats.openPollStreams === 1);
    lh.killPollStreams(Status.UNAVAILABLE);
    expect(((await p.done) as ClientError).code).toBe(Status.UNAVAILABLE);
  });

  it('answers GetTaskRun with the TaskRun timeout', async () => {
    const run = schedule({ timeoutSeconds: 42 });
    await expect(clientFor().getTaskRun(run.id)).resolves.toMatchObject({ timeoutSeconds: 42, status: TaskStatus.TASK_SCHEDULED });
  });
});
