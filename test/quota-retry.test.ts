import { ClientError, Status } from 'nice-grpc';
import { VariableType } from 'littlehorse-client/proto';
import { afterEach, describe, expect, it } from 'vitest';
import type { LittleHorseConfig } from '../lib/config.js';
import { LittleHorseConnections } from '../lib/littlehorse/connection.js';
import { type FakeLittleHorse, startFakeLittleHorse } from '../devstack/littlehorse/index.js';
import { event } from './support/worker-process.js';
import { type Stack } from './support/stack.js';
import { stackFixture } from './support/stack-fixture.js';

const fixture = stackFixture();
const ready = fixture.ready;
let stack: Stack | undefined;
let lh: FakeLittleHorse | undefined;
let connections: LittleHorseConnections | undefined;
afterEach(async () => {
  connections?.close();
  connections = undefined;
  await lh?.stop();
  lh = undefined;
});

/** The worker's own LittleHorse clients, in this process, against a fresh double that has TaskDef `work`. */
async function clientOfDouble(resourceExhaustedRetry = true) {
  lh = await startFakeLittleHorse();
  lh.putTaskDef({ name: 'work', inputVars: [{ name: 'x', typeDef: { type: VariableType.JSON_OBJ, masked: false } }], returnType: undefined });
  const config: LittleHorseConfig = {
    host: lh.host,
    port: lh.port,
    protocol: 'PLAINTEXT',
    tenantId: 'default',
    certificates: {},
    oauth: undefined,
    keepaliveTimeMs: 45_000,
    keepaliveTimeoutMs: 5_000,
    resourceExhaustedRetry,
    maxReceiveMessageLength: 64 * 1024 ** 2,
  };
  connections = new LittleHorseConnections(config);
  return connections.bootstrap();
}

const codeOf = (error: unknown) => (error instanceof ClientError ? error.code : error);

describe('RESOURCE_EXHAUSTED from a LittleHorse request quota', () => {
  it('retries a report after the delay LittleHorse advertises, and the report lands', async () => {
    stack = await fixture.start();
    await ready();
    stack.lh.exhaustNext('reportTask', 1, 1_500);
    const done = await stack.lh.waitForTaskRun(stack.schedule().id);
    expect(done.status).toBe('TASK_SUCCESS');
    const [refused, accepted] = stack.lh.stats.reportTimes;
    expect(stack.lh.stats.reportTimes).toHaveLength(2);
    // The report path's own retry would come back after at most 100 ms.
    expect(accepted! - refused!).toBeGreaterThanOrEqual(1_500 - 5);
  });

  it('with LHC_GRPC_RESOURCE_EXHAUSTED_RETRY=false, a call that meets it fails at once', async () => {
    stack = await fixture.start();
    const worker = await ready({ LHC_GRPC_RESOURCE_EXHAUSTED_RETRY: 'false' });
    // GetTaskRun has no retry of its own: the worker falls back to the default timeout.
    stack.lh.exhaustNext('getTaskRun', 1, 100);
    const done = await stack.lh.waitForTaskRun(stack.schedule().id);
    expect(done.status).toBe('TASK_SUCCESS');
    const warning = await worker.waitForLog(event('timeout-unknown'));
    expect(String(warning.error)).toContain('RESOURCE_EXHAUSTED');
    expect(stack.lh.stats.calls.getTaskRun).toBe(1);
  });

  it('does not retry RESOURCE_EXHAUSTED without RetryInfo (a size limit, not a quota), as LittleHorse\'s SDKs do not', async () => {
    const client = await clientOfDouble();
    lh!.exhaustNext('getTaskDef', 1);
    expect(codeOf(await client.getTaskDef({ name: 'work' }).catch((e: unknown) => e))).toBe(Status.RESOURCE_EXHAUSTED);
    expect(lh!.stats.calls.getTaskDef).toBe(1);
  });

  it('gives up after five calls', async () => {
    const client = await clientOfDouble();
    lh!.exhaustNext('getTaskDef', 10, 10);
    expect(codeOf(await client.getTaskDef({ name: 'work' }).catch((e: unknown) => e))).toBe(Status.RESOURCE_EXHAUSTED);
    expect(lh!.stats.calls.getTaskDef).toBe(5);
  });

  it('does not wait when the advertised delay is beyond its 30 s budget', async () => {
    const client = await clientOfDouble();
    lh!.exhaustNext('getTaskDef', 1, 60_000);
    expect(codeOf(await client.getTaskDef({ name: 'work' }).catch((e: unknown) => e))).toBe(Status.RESOURCE_EXHAUSTED);
    expect(lh!.stats.calls.getTaskDef).toBe(1);
  });

  it('stops waiting when the call is aborted', { timeout: 5_000 }, async () => {
    const client = await clientOfDouble();
    lh!.exhaustNext('getTaskDef', 1, 20_000);
    const error = await client.getTaskDef({ name: 'work' }, { signal: AbortSignal.timeout(200) }).catch((e: unknown) => e);
    expect(codeOf(error)).toBe(Status.RESOURCE_EXHAUSTED);
    expect(lh!.stats.calls.getTaskDef).toBe(1);
  });

  it('leaves the PollTask stream to the poller', async () => {
    const client = await clientOfDouble();
    lh!.exhaustNext('pollTask', 1, 10);
    const abort = new AbortController();
    async function* requests() {
      yield { taskDefId: { name: 'work' }, clientId: 'w1' };
      await new Promise((resolve) => abort.signal.addEventListener('abort', resolve));
    }
    const error = await (async () => {
      for await (const _ of client.pollTask(requests(), { signal: abort.signal })) break;
    })().catch((e: unknown) => e);
    abort.abort();
    expect(codeOf(error)).toBe(Status.RESOURCE_EXHAUSTED);
    expect(lh!.stats.calls.pollTask).toBe(1);
  });
});
