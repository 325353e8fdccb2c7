import { TaskStatus } from 'littlehorse-client/proto';
import { describe, expect, it } from 'vitest';
import { stackFixture } from './support/stack-fixture.js';
import { sampleWorkflow } from './support/stack.js';

const stacks = stackFixture();
const content = (jsonObj: string | undefined) => JSON.parse(jsonObj ?? 'null') as Record<string, unknown>;

describe('business exceptions a WfSpec can route on, as LittleHorse receives them', () => {
  it('reports a node class ComfyUI does not have as comfyui-missing-node', async () => {
    const stack = await stacks.start();
    await stacks.ready();
    const done = await stack.lh.waitForTaskRun(stack.schedule({ ...sampleWorkflow, '4': { class_type: 'MyMissingLoader', inputs: {} } }).id);
    expect(done.status).toBe(TaskStatus.TASK_EXCEPTION);
    const exception = done.attempts[0]!.exception!;
    expect(exception.name).toBe('comfyui-missing-node');
    expect(content(exception.content?.jsonObj).missing).toEqual({ node_id: '4', class_type: 'MyMissingLoader' });
  });

  it('reports a node that ran out of GPU memory as comfyui-out-of-memory', async () => {
    const stack = await stacks.start();
    await stacks.ready();
    stack.comfy.script({ kind: 'error', nodeId: '3', exceptionType: 'torch.OutOfMemoryError', message: 'Allocation on device' });
    const done = await stack.lh.waitForTaskRun(stack.schedule().id);
    const exception = done.attempts[0]!.exception!;
    expect(exception.name).toBe('comfyui-out-of-memory');
    expect(content(exception.content?.jsonObj)).toMatchObject({ node_id: '3', node_type: 'KSampler', exception_type: 'torch.OutOfMemoryError' });
  });
});
