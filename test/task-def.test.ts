import { VariableType } from 'littlehorse-client/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeLittleHorse, startFakeLittleHorse } from '../devstack/littlehorse/index.js';
import type { LittleHorseConfig } from '../lib/config.js';
import { LittleHorseConnections } from '../lib/littlehorse/connection.js';
import { ensureTaskDef, TaskDefMismatch, type TaskDefShape } from '../lib/littlehorse/task-def.js';

let lh: FakeLittleHorse | undefined;
let connections: LittleHorseConnections | undefined;
afterEach(async () => {
  connections?.close();
  connections = undefined;
  await lh?.stop();
  lh = undefined;
});

/** The worker's own LittleHorse client, in this process, against a fresh double. */
async function client() {
  lh = await startFakeLittleHorse();
  const config: LittleHorseConfig = {
    host: lh.host,
    port: lh.port,
    protocol: 'PLAINTEXT',
    tenantId: 'default',
    certificates: {},
    oauth: undefined,
    keepaliveTimeMs: 45_000,
    keepaliveTimeoutMs: 5_000,
    resourceExhaustedRetry: false,
    maxReceiveMessageLength: 64 * 1024 ** 2,
  };
  connections = new LittleHorseConnections(config);
  return connections.bootstrap();
}

const jsonObj = { type: VariableType.JSON_OBJ, masked: false };
const workflowInput = [{ name: 'workflow', typeDef: jsonObj }];
const template: TaskDefShape = {
  inputs: [
    { name: 'prompt', type: VariableType.STR, masked: false },
    { name: 'seed', type: VariableType.INT, masked: false },
    { name: 'api_key', type: VariableType.STR, masked: true },
  ],
  fix: 'or publish the changed template under a new version',
};

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof TaskDefMismatch ? error.message : `unexpected: ${String(error)}`),
  );

describe('making sure the TaskDef has our shape', () => {
  it('refuses a raw-workflow TaskDef that returns STR instead of JSON_OBJ', async () => {
    const bootstrap = await client();
    lh!.putTaskDef({ name: 'run-workflow', inputVars: workflowInput, returnType: { returnType: { type: VariableType.STR, masked: false } } });
    expect(await refusal(ensureTaskDef(bootstrap, 'run-workflow'))).toMatch(
      /^TaskDef run-workflow already exists with return type STR, but this worker needs exactly one input "workflow: JSON_OBJ" and return type JSON_OBJ\. It is never overwritten: delete it \(lhctl delete taskDef run-workflow\) or set LHW_TASK_NAME to another name\.$/,
    );
    expect(lh!.taskDefs().find((t) => t.id?.name === 'run-workflow')?.returnType?.returnType?.type).toBe(VariableType.STR);
  });

  it('refuses a TaskDef that returns nothing (void)', async () => {
    const bootstrap = await client();
    lh!.putTaskDef({ name: 'run-workflow', inputVars: workflowInput, returnType: {} });
    expect(await refusal(ensureTaskDef(bootstrap, 'run-workflow'))).toContain('already exists with return type none (void)');
  });

  it('accepts a TaskDef from before return types (LittleHorse < 0.13.2 leaves its output unchecked)', async () => {
    const bootstrap = await client();
    lh!.putTaskDef({ name: 'run-workflow', inputVars: workflowInput, returnType: undefined });
    expect(await refusal(ensureTaskDef(bootstrap, 'run-workflow'))).toBe('accepted');
  });

  it('creates a template\'s TaskDef with typed, masked inputs in order and a JSON_OBJ result', async () => {
    const bootstrap = await client();
    await ensureTaskDef(bootstrap, 'comfyui-text-to-image', undefined, template);
    const created = lh!.taskDefs().find((t) => t.id?.name === 'comfyui-text-to-image');
    expect(created?.inputVars.map((v) => [v.name, v.typeDef?.type, v.typeDef?.masked])).toEqual([
      ['prompt', VariableType.STR, false],
      ['seed', VariableType.INT, false],
      ['api_key', VariableType.STR, true],
    ]);
    expect(created?.returnType?.returnType?.type).toBe(VariableType.JSON_OBJ);
    expect(await refusal(ensureTaskDef(bootstrap, 'comfyui-text-to-image', undefined, template))).toBe('accepted');
  });

  it('refuses a template\'s TaskDef whose inputs differ, naming them and the fix', async () => {
    const bootstrap = await client();
    lh!.putTaskDef({
      name: 'comfyui-text-to-image',
      inputVars: [{ name: 'prompt', typeDef: { type: VariableType.STR, masked: false } }, { name: 'seed', typeDef: { type: VariableType.DOUBLE, masked: false } }],
      returnType: { returnType: jsonObj },
    });
    expect(await refusal(ensureTaskDef(bootstrap, 'comfyui-text-to-image', undefined, template))).toBe(
      'TaskDef comfyui-text-to-image already exists with inputs (prompt: STR, seed: DOUBLE), but this worker needs the inputs ' +
        '"prompt: STR, seed: INT, api_key: STR (masked)" and return type JSON_OBJ. It is never overwritten: delete it ' +
        '(lhctl delete taskDef comfyui-text-to-image) or publish the changed template under a new version.',
    );
  });
});
