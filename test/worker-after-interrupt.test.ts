import { TaskStatus } from 'littlehorse-client/proto';
import { describe, expect, it } from 'vitest';
import { stackFixture } from './support/stack-fixture.js';
import { event } from './support/worker-process.js';

const stacks = stackFixture();

// Two nodes: with 6 s of run time each takes 3 s, and an interrupt waits for the running one to end.
const twoSlowNodes = {
  '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
  '2': { class_type: 'PreviewAny', inputs: { source: ['1', 0] } },
};

describe('after a task interrupted its prompt', () => {
  it('asks LittleHorse for no work until ComfyUI has let go of that prompt', async () => {
    const stack = await stacks.start({ comfy: { runTimeMs: 6_000 } });
    const worker = await stacks.ready();
    const promptLeft = new Promise<number>((resolve) => stack.comfy.events.once('finished', () => resolve(Date.now())));
    // A 3 s TaskRun timeout: the worker stops the prompt at 1.5 s, while node 1 still runs until 3 s.
    const first = stack.schedule(twoSlowNodes, { timeoutSeconds: 3 });
    const firstDone = await stack.lh.waitForTaskRun(first.id);
    expect(firstDone.status).toBe(TaskStatus.TASK_FAILED);
    expect(stack.comfy.stats.interrupts).toHaveLength(1);
    stack.comfy.runTimeMs = 100;
    const second = stack.schedule(twoSlowNodes, { timeoutSeconds: 30 });
    await worker.waitForLog(event('interrupted-prompt-waiting'));
    const pollsWhileWaiting = stack.lh.stats.pollRequests;
    const left = await promptLeft;
    await worker.waitForLog(event('interrupted-prompt-left'));
    expect(stack.lh.stats.pollRequests).toBe(pollsWhileWaiting);
    const secondDone = await stack.lh.waitForTaskRun(second.id);
    expect(secondDone.status).toBe(TaskStatus.TASK_SUCCESS);
    const received = worker.logs.filter(event('task-received')).map((l) => Date.parse(String(l.timestamp)));
    expect(received).toHaveLength(2);
    expect(received[1]).toBeGreaterThanOrEqual(left - 50);
  });
});
