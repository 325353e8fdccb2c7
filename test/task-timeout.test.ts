import type { WfSpec } from 'littlehorse-client/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { sharedTimeout } from '../lib/littlehorse/task-timeout.js';
import { type Harness, oneTaskWfSpec, startHarness } from './real/harness.js';
import { sampleWorkflow, type Stack, startStack, TASK_NAME } from './support/stack.js';

const specOf = (request: ReturnType<typeof oneTaskWfSpec>) => ({ ...request, id: { name: request.name, majorVersion: 0, revision: 0 } }) as unknown as WfSpec;
const withSecondTaskNode = (spec: WfSpec, timeoutSeconds: number, taskDefName = TASK_NAME) => {
  const thread = spec.threadSpecs.entrypoint!;
  thread.nodes['3-again-TASK'] = { task: { taskDefId: { name: taskDefName }, timeoutSeconds, retries: 0, variables: [] }, outgoingEdges: [], failureHandlers: [] };
  return spec;
};

describe('the TaskRun timeout learnt from the WfSpec', () => {
  it("is the task node's timeout when it is the only node calling the TaskDef", () => {
    expect(sharedTimeout(specOf(oneTaskWfSpec('wf', TASK_NAME, 90)), TASK_NAME)).toBe(90);
  });

  it("is LittleHorse's 60 s default when the node sets none", () => {
    expect(sharedTimeout(specOf(oneTaskWfSpec('wf', TASK_NAME, 0)), TASK_NAME)).toBe(60);
  });

  it('is unknown when two nodes call the TaskDef with different timeouts (read per task instead)', () => {
    expect(sharedTimeout(withSecondTaskNode(specOf(oneTaskWfSpec('wf', TASK_NAME, 90)), 30), TASK_NAME)).toBeUndefined();
  });

  it("ignores other TaskDefs' nodes", () => {
    expect(sharedTimeout(withSecondTaskNode(specOf(oneTaskWfSpec('wf', TASK_NAME, 90)), 30, 'something-else'), TASK_NAME)).toBe(90);
  });

  it('is unknown when a node calls a dynamic task', () => {
    const spec = withSecondTaskNode(specOf(oneTaskWfSpec('wf', TASK_NAME, 90)), 90);
    const dynamic = spec.threadSpecs.entrypoint!.nodes['3-again-TASK']!.task!;
    dynamic.taskDefId = undefined;
    dynamic.dynamicTask = { variableName: 'which' };
    expect(sharedTimeout(spec, TASK_NAME)).toBeUndefined();
  });
});

describe('a worker running a WfSpec', () => {
  let stack: Stack | undefined;
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
    await stack?.stop();
    stack = undefined;
  });

  it('reads the WfSpec once for all its tasks, instead of GetTaskRun per task, and stops in time for its timeout', async () => {
    stack = await startStack();
    harness = await startHarness({ workerEnv: stack.env({ LHW_TIMEOUT_MARGIN_SEC: '1' }), workflow: sampleWorkflow, taskTimeoutSeconds: 3 });
    const readsBefore = stack.lh.stats.calls.getTaskRun ?? 0;
    await harness.run(sampleWorkflow);
    await harness.run(sampleWorkflow);
    expect(stack.lh.stats.calls.getWfSpec).toBe(1);
    // The harness reads each TaskRun once to check it; the worker reads none.
    expect((stack.lh.stats.calls.getTaskRun ?? 0) - readsBefore).toBe(2);

    stack.comfy.runTimeMs = 10_000;
    const slow = await harness.run(sampleWorkflow);
    expect(slow.taskRun.attempts[0]!.error?.message).toContain("LittleHorse's TaskRun timeout (3 s from claim");
  });
});
