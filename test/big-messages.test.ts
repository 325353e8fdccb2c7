import { TaskStatus, VariableType } from 'littlehorse-client/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeLittleHorse, startFakeLittleHorse } from '../devstack/littlehorse/index.js';
import { parseConfig } from '../lib/config.js';
import { LittleHorseConnections } from '../lib/littlehorse/connection.js';
import { describePollError } from '../lib/littlehorse/stream-errors.js';
import { sampleWorkflow } from './support/stack.js';
import { stackFixture } from './support/stack-fixture.js';

/** The sample workflow with a positive prompt long enough to make the task's message `bytes` long. */
function workflowOf(bytes: number) {
  const workflow = structuredClone(sampleWorkflow) as Record<string, { inputs: Record<string, unknown> }>;
  workflow['6']!.inputs.text = 'a watercolour fox, '.repeat(Math.ceil(bytes / 19));
  return workflow;
}

const MiB = 1024 ** 2;

describe('a task message over grpc-js default 4 MiB', () => {
  const stacks = stackFixture();

  it('runs to TASK_SUCCESS with the default receive limit', async () => {
    const stack = await stacks.start();
    await stacks.ready();
    const run = stack.schedule(workflowOf(5 * MiB));
    const done = await stack.lh.waitForTaskRun(run.id, 20_000);
    expect(done.status).toBe(TaskStatus.TASK_SUCCESS);
  });

  it('logs an error naming LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH when a task is over the limit set', async () => {
    const stack = await stacks.start();
    const worker = await stacks.ready({ LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH: String(MiB) });
    stack.schedule(workflowOf(2 * MiB));
    const line = await worker.waitForLog((l) => l.level === 'ERROR' && l.variable === 'LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH', 10_000);
    expect(line.limitBytes).toBe(MiB);
  });
});

describe('a task message over LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH', () => {
  let lh: FakeLittleHorse | undefined;
  let connections: LittleHorseConnections | undefined;
  afterEach(async () => {
    connections?.close();
    await lh?.stop();
    lh = connections = undefined;
  });

  it('breaks the PollTask stream with an error that names the limit and the variable', async () => {
    lh = await startFakeLittleHorse();
    lh.putTaskDef({ name: 'work', inputVars: [{ name: 'workflow', typeDef: { type: VariableType.JSON_OBJ, masked: false } }], returnType: undefined });
    lh.scheduleTask({ taskDefName: 'work', variables: { workflow: { jsonObj: JSON.stringify(workflowOf(2 * MiB)) } } });
    const parsed = parseConfig({ COMFYUI_BASE_URL: 'http://127.0.0.1:1', COMFYUI_OUTPUT_DIR: '/tmp', LHW_TASK_NAME: 'work', LHC_API_HOST: lh.host, LHC_API_PORT: String(lh.port), LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH: String(MiB) });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    connections = new LittleHorseConnections(parsed.config.littlehorse);
    async function* oneRequest() {
      yield { taskDefId: { name: 'work' }, clientId: 'w1', taskWorkerVersion: '' };
      await new Promise(() => {}); // keep the stream open, as the poller does
    }
    const broke = await (async () => {
      for await (const response of connections!.bootstrap().pollTask(oneRequest())) return response;
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    const log = describePollError(broke, parsed.config.littlehorse.maxReceiveMessageLength);
    expect(log.level).toBe('error');
    expect(log.message).toContain('LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH');
    expect(log.message).toContain(String(MiB));
    expect(log.fields).toMatchObject({ limitBytes: MiB, variable: 'LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH' });
    expect(log.fields.messageBytes).toBeGreaterThan(2 * MiB);
  });

  it('keeps any other stream break a warning to reconnect', () => {
    expect(describePollError(new Error('socket hang up'), MiB)).toMatchObject({ level: 'warn', fields: { error: 'socket hang up' } });
  });
});

describe('LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH', () => {
  const env = { COMFYUI_BASE_URL: 'http://127.0.0.1:8188', COMFYUI_OUTPUT_DIR: '/tmp', LHW_TASK_NAME: 'work' };
  const limitOf = (value?: string) => {
    const parsed = parseConfig({ ...env, LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH: value });
    return parsed.ok ? parsed.config.littlehorse.maxReceiveMessageLength : parsed.problems.join('; ');
  };

  it('defaults to 64 MiB', () => expect(limitOf()).toBe(64 * MiB));
  it('takes -1 as no limit, as the LittleHorse SDKs do', () => expect(limitOf('-1')).toBe(-1));
  it.each(['0', 'lots', '-2'])('refuses %s, naming the variable', (value) => expect(limitOf(value)).toContain('LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH'));
});
