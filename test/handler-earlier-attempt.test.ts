import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { executeComfyuiWorkflow } from '../functions/execute-comfyui-workflow/handler.js';
import { promptIdentity } from '../functions/execute-comfyui-workflow/identity.js';
import { type Harness, handlerHarness } from './support/handler-deps.js';

let comfy: FakeComfy;
let harness: Harness | undefined;
beforeEach(async () => {
  comfy = await startFakeComfy({ runTimeMs: 100 });
});
afterEach(async () => {
  harness?.close();
  harness = undefined;
  await comfy.stop();
});

const ref = { wfRunId: 'wf-1', parentWfRunIds: [], taskGuid: '0-1', attemptNumber: 0 };
const submitAs = (identity: ReturnType<typeof promptIdentity>) =>
  fetch(`${comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: txt2img, prompt_id: identity.promptId, extra_data: identity.extraData }) });
const started = (promptId: string) => new Promise<void>((resolve) => comfy.events.on('started', (id: string) => id === promptId && resolve()));

describe('a retry after its earlier attempt stopped the prompt', () => {
  it('does not fail with the interrupt its own earlier attempt caused: it waits for that prompt to end and runs afresh', async () => {
    comfy.runTimeMs = 3_000;
    harness = await handlerHarness(comfy);
    const first = promptIdentity(ref);
    const running = started(first.promptId);
    await submitAs(first);
    await running;
    // The earlier attempt stopped it (deadline, shutdown); ComfyUI finishes the running node first.
    await fetch(`${comfy.url}/interrupt`, { method: 'POST', body: JSON.stringify({ prompt_id: first.promptId }) });
    comfy.runTimeMs = 100;
    harness.deps.identity = promptIdentity({ ...ref, attemptNumber: 1 });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(harness.deps.identity.promptId);
    expect(comfy.history(first.promptId)?.status.messages.some(([event]) => event === 'execution_interrupted')).toBe(true);
    expect(harness.lines.some((l) => l.includes('submitting afresh'))).toBe(true);
  });

  it('runs afresh when the earlier attempt took its prompt off the queue after this one attached', async () => {
    comfy.runTimeMs = 800;
    const blocker = { '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } }, '2': { class_type: 'PreviewAny', inputs: { source: ['1', 0] } } };
    await fetch(`${comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: blocker }) });
    const first = promptIdentity(ref);
    await submitAs(first);
    harness = await handlerHarness(comfy);
    harness.deps.identity = promptIdentity({ ...ref, attemptNumber: 1 });
    setTimeout(() => void fetch(`${comfy.url}/queue`, { method: 'POST', body: JSON.stringify({ delete: [first.promptId] }) }), 300);
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(harness.deps.identity.promptId);
  });

  it('still attaches to an earlier prompt that runs to its end', async () => {
    comfy.runTimeMs = 400;
    const first = promptIdentity(ref);
    await submitAs(first);
    harness = await handlerHarness(comfy);
    harness.deps.identity = promptIdentity({ ...ref, attemptNumber: 1 });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(first.promptId);
    expect(comfy.stats.promptsSubmitted).toBe(1);
  });
});

describe('stopping a running prompt', () => {
  it('names the prompt it interrupted, so the worker waits for ComfyUI to let go of it', async () => {
    comfy.runTimeMs = 3_000;
    const stop = new AbortController();
    comfy.events.once('started', () => setTimeout(() => stop.abort(new Error('deadline')), 100));
    harness = await handlerHarness(comfy, { signal: stop.signal });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.interruptedPromptId).toBe(outcome.promptId);
    expect(comfy.stats.interrupts).toEqual([{ promptId: outcome.promptId }]);
  });

  it('names no interrupted prompt when it only took a queued one off the queue', async () => {
    comfy.runTimeMs = 3_000;
    await fetch(`${comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: txt2img }) });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('deadline')), 300);
    harness = await handlerHarness(comfy, { signal: stop.signal });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(!outcome.ok && outcome.interruptedPromptId).toBeUndefined();
    expect(comfy.stats.deletes).toHaveLength(1);
  });
});
