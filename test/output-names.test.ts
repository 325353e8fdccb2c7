import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { executeComfyuiWorkflow } from '../functions/execute-comfyui-workflow/handler.js';
import { collectOutputs } from '../functions/execute-comfyui-workflow/outputs.js';
import { type Harness, handlerHarness } from './support/handler-deps.js';

const options = { outputDir: '/data/out', includeTemp: true };

describe('output names that begin with two dots', () => {
  it.each([
    ['a file', '..hidden_00001_.png', '', '/data/out/..hidden_00001_.png'],
    ['a subfolder', 'a.png', '..cache', '/data/out/..cache/a.png'],
    ['a nested subfolder', 'a.png', 'x/..y', '/data/out/x/..y/a.png'],
  ])('collects %s named with two leading dots', (_label, filename, subfolder, expected) => {
    const result = collectOutputs({ '9': { images: [{ filename, subfolder, type: 'output' }] } }, options);
    expect(result.ok && result.outputs.files[0]?.path).toBe(path.resolve(expected));
  });

  it('collects a preview in a two-dot subfolder', () => {
    const result = collectOutputs({ '9': { images: [{ filename: 'p.png', subfolder: '..cache', type: 'temp' }] } }, options);
    expect(result.ok && result.outputs.files[0]).toMatchObject({ subfolder: '..cache', path: null });
  });
});

describe('a workflow saving under a two-dot name', () => {
  let comfy: FakeComfy;
  let harness: Harness | undefined;
  beforeEach(async () => {
    comfy = await startFakeComfy({ runTimeMs: 50 });
  });
  afterEach(async () => {
    harness?.close();
    harness = undefined;
    await comfy.stop();
  });

  const workflow = structuredClone(txt2img) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  workflow['9']!.inputs.filename_prefix = '..cache/..hidden';

  it('succeeds with the file in its subfolder when the output folder is shared', async () => {
    harness = await handlerHarness(comfy);
    const outcome = await executeComfyuiWorkflow(workflow, harness.deps);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const [file] = outcome.result.outputs;
    expect(file).toMatchObject({ subfolder: '..cache', filename: '..hidden_00001_.png' });
    expect(file?.path).toBe(path.join(comfy.outputDir, '..cache', '..hidden_00001_.png'));
  });

  // ComfyUI's /view refuses any filename containing '..' (server.py view_image), so only the subfolder can.
  it('downloads a file from a two-dot subfolder when ComfyUI runs on another host', async () => {
    const local = mkdtempSync(path.join(tmpdir(), 'worker-out-'));
    const inSubfolder = structuredClone(workflow);
    inSubfolder['9']!.inputs.filename_prefix = '..cache/ComfyUI';
    harness = await handlerHarness(comfy, { download: { outputDir: local } });
    const outcome = await executeComfyuiWorkflow(inSubfolder, harness.deps);
    expect(outcome.ok ? 'ok' : outcome.failure.message).toBe('ok');
    if (!outcome.ok) return;
    expect(outcome.result.outputs[0]?.path).toBe(path.join(local, '..cache', 'ComfyUI_00001_.png'));
    expect(existsSync(outcome.result.outputs[0]!.path!)).toBe(true);
  });
});
