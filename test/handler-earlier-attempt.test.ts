import { describe, expect, it } from 'vitest';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { executeComfyuiWorkflow } from '../functions/execute-comfyui-workflow/handler.js';
import { promptIdentity } from '../functions/execute-comfyui-workflow/identity.js';
import { comfyPerTest, type Harness } from './support/handler-deps.js';

const fixture = comfyPerTest({ runTimeMs: 100 });
let harness: Harness | undefined;

const ref = { wfRunId: 'wf-1', parentWfRunIds: [], taskGuid: '0-1', attemptNumber: 0 };
const submitAs = (identity: ReturnType<typeof promptIdentity>) =>
  fetch(`${fixture.comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: txt2img, prompt_id: identity.promptId, extra_data: identity.extraData }) });
const started = (promptId: string) => new Promise<void>((resolve) => fixture.comfy.events.on('started', (id: string) => id === promptId && resolve()));

describe('a retry after its earlier attempt stopped the prompt', () => {
  it('does not fail with the interrupt its own earlier attempt caused: it waits for that prompt to end and runs afresh', async () => {
    fixture.comfy.runTimeMs = 3_000;
    harness = await fixture.harness();
    const first = promptIdentity(ref);
    const running = started(first.promptId);
    await submitAs(first);
    await running;
    // The earlier attempt stopped it (deadline, shutdown); ComfyUI finishes the running node first.
    await fetch(`${fixture.comfy.url}/interrupt`, { method: 'POST', body: JSON.stringify({ prompt_id: first.promptId }) });
    fixture.comfy.runTimeMs = 100;
    harness.deps.identity = promptIdentity({ ...ref, attemptNumber: 1 });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(harness.deps.identity.promptId);
    expect(fixture.comfy.history(first.promptId)?.status.messages.some(([event]) => event === 'execution_interrupted')).toBe(true);
    expect(harness.lines.some((l) => l.includes('submitting afresh'))).toBe(true);
  });

  it('runs afresh when the earlier attempt took its prompt off the queue after this one attached', async () => {
    fixture.comfy.runTimeMs = 800;
    const blocker = { '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } }, '2': { class_type: 'PreviewAny', inputs: { source: ['1', 0] } } };
    await fetch(`${fixture.comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: blocker }) });
    const first = promptIdentity(ref);
    await submitAs(first);
    harness = await fixture.harness();
    harness.deps.identity = promptIdentity({ ...ref, attemptNumber: 1 });
    setTimeout(() => void fetch(`${fixture.comfy.url}/queue`, { method: 'POST', body: JSON.stringify({ delete: [first.promptId] }) }), 300);
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(harness.deps.identity.promptId);
  });

  it('still attaches to an earlier prompt that runs to its end', async () => {
    fixture.comfy.runTimeMs = 400;
    const first = promptIdentity(ref);
    await submitAs(first);
    harness = await fixture.harness();
    harness.deps.identity = promptIdentity({ ...ref, attemptNumber: 1 });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(first.promptId);
    expect(fixture.comfy.stats.promptsSubmitted).toBe(1);
  });
});

describe('stopping a running prompt', () => {
  it('names the prompt it interrupted, so the worker waits for ComfyUI to let go of it', async () => {
    fixture.comfy.runTimeMs = 3_000;
    const stop = new AbortController();
    fixture.comfy.events.once('started', () => setTimeout(() => stop.abort(new Error('deadline')), 100));
    harness = await fixture.harness({ signal: stop.signal });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.interruptedPromptId).toBe(outcome.promptId);
    expect(fixture.comfy.stats.interrupts).toEqual([{ promptId: outcome.promptId }]);
  });

  it('names no interrupted prompt when it only took a queued one off the queue', async () => {
    fixture.comfy.runTimeMs = 3_000;
    await fetch(`${fixture.comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: txt2img }) });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('deadline')), 300);
    harness = await fixture.harness({ signal: stop.signal });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(!outcome.ok && outcome.interruptedPromptId).toBeUndefined();
    expect(fixture.comfy.stats.deletes).toHaveLength(1);
  });
});
