import { describe, expect, it } from 'vitest';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { executeComfyuiWorkflow } from '../functions/execute-comfyui-workflow/handler.js';
import { comfyPerTest, type Harness } from './support/handler-deps.js';

const fixture = comfyPerTest({ runTimeMs: 1_000 });
let harness: Harness | undefined;

// Two output nodes: 9 is valid; 10 takes a CONDITIONING where an IMAGE is needed, so ComfyUI answers
// 200, queues node 9's branch only, and lists node 10 in node_errors.
const partlyInvalid = { ...txt2img, '10': { class_type: 'SaveImage', inputs: { images: ['6', 0], filename_prefix: 'bad' } } };

const run = async (allowPartial: boolean) => {
  harness = await fixture.harness({ settings: { allowPartial } });
  return executeComfyuiWorkflow(partlyInvalid, harness.deps);
};

describe('a graph ComfyUI accepts only in part (200 with node_errors)', () => {
  it('fails as comfyui-invalid-workflow naming the invalid node, and takes the partial prompt off ComfyUI', async () => {
    const outcome = await run(false);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-workflow' });
    expect(outcome.failure.message).toContain('node 10 (SaveImage)');
    expect(outcome.failure.details).toMatchObject({ node_errors: [{ node_id: '10', class_type: 'SaveImage', dependent_outputs: ['10'] }] });
    const stopped = [...fixture.comfy.stats.deletes, ...fixture.comfy.stats.interrupts.map((i) => i.promptId)];
    expect(stopped).toContain(outcome.promptId);
    expect(fixture.comfy.history(outcome.promptId!)?.status.status_str).not.toBe('success');
  });

  it('with partial results allowed, runs the valid outputs and lists the skipped ones with their errors', async () => {
    fixture.comfy.runTimeMs = 100;
    const outcome = await run(true);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.result.outputs.map((f) => f.node_id)).toEqual(['9']);
    expect(outcome.result.skipped_outputs).toEqual([
      {
        node_id: '10',
        class_type: 'SaveImage',
        errors: [expect.objectContaining({ node_id: '10', class_type: 'SaveImage', type: 'return_type_mismatch' })],
      },
    ]);
  });

  it('reports no skipped outputs for a graph ComfyUI accepts whole', async () => {
    fixture.comfy.runTimeMs = 100;
    harness = await fixture.harness({ settings: { allowPartial: true } });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.skipped_outputs).toBeUndefined();
  });
});
