import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { executeComfyuiWorkflow } from '../functions/execute-comfyui-workflow/handler.js';
import { idempotencyKey, promptIdentity } from '../functions/execute-comfyui-workflow/identity.js';
import { taskOutputFolder, withTaskOutputFolder } from '../functions/execute-comfyui-workflow/output-folder.js';
import { parseWorkflow } from '../functions/execute-comfyui-workflow/workflow.js';
import { type Harness, handlerHarness } from './support/handler-deps.js';

const parsed = parseWorkflow(txt2img);
if (!parsed.ok) throw new Error('sample workflow does not parse');
const workflow = parsed.workflow;

describe('a subfolder per task for output names', () => {
  it("moves every output node's filename_prefix into the folder and leaves the rest alone", () => {
    const moved = withTaskOutputFolder({ ...workflow, '10': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'sub/x' } } }, 'task-a');
    expect(moved['9']!.inputs.filename_prefix).toBe('task-a/ComfyUI');
    expect(moved['10']!.inputs.filename_prefix).toBe('task-a/sub/x');
    expect(moved['3']).toEqual(workflow['3']);
  });

  it('leaves a prefix that comes from another node as it is', () => {
    const linked = { '1': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: ['3', 0] } } };
    expect(withTaskOutputFolder(linked, 'task-a')).toEqual(linked);
  });

  it('names the folder after the TaskRun, the same for every attempt and safe as a path segment', () => {
    const key = idempotencyKey({ wfRunId: 'wf 1', parentWfRunIds: ['parent'], taskGuid: 'g/../1', attemptNumber: 3 });
    expect(taskOutputFolder(key)).toBe('task-parent_wf_1_g_.._1');
    expect(taskOutputFolder(key)).not.toContain('/');
  });
});

describe('a cached re-run with a subfolder per task', () => {
  let comfy: FakeComfy | undefined;
  const harnesses: Harness[] = [];
  afterEach(async () => {
    harnesses.splice(0).forEach((h) => h.close());
    await comfy?.stop();
  });

  it('reports files of its own for each task running the same graph', async () => {
    comfy = await startFakeComfy({ runTimeMs: 50 });
    const paths: string[] = [];
    for (const wfRunId of ['wf-a', 'wf-b']) {
      const harness = await handlerHarness(comfy, { settings: { outputPerTask: true } });
      harnesses.push(harness);
      harness.deps.identity = promptIdentity({ wfRunId, parentWfRunIds: [], taskGuid: '0-1', attemptNumber: 0 });
      const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
      if (!outcome.ok) throw new Error(outcome.failure.message);
      paths.push(outcome.result.outputs[0]!.path!);
    }
    expect(paths[0]).toContain('/task-wf-a_0-1/');
    expect(paths[1]).toContain('/task-wf-b_0-1/');
    expect(paths.every((p) => existsSync(p))).toBe(true);
  });
});
