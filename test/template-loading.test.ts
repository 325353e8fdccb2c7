import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import { ComfyClient } from '../lib/comfyui/client.js';
import { ComfyHttp } from '../lib/comfyui/http.js';
import { checkTemplatesOnComfy } from '../lib/templates/check-on-comfy.js';
import { loadTemplates } from '../lib/templates/load.js';

const shipped = path.resolve(import.meta.dirname, '../templates');
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const done of cleanup.splice(0)) await done();
});

function folder(files: Record<string, string> = {}, copies: string[] = []): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'templates-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of copies) copyFileSync(path.join(shipped, name), path.join(dir, name));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const load = (dir: string | undefined) => loadTemplates({ dir, prefix: 'comfyui-', rawTaskName: 'execute-comfyui-workflow' });

describe('loading the templates folder', () => {
  it('registers each template under the prefix, by file name', () => {
    const result = load(shipped);
    expect(result.ok && [...result.templates.keys()]).toEqual(['comfyui-image-to-image', 'comfyui-text-to-image', 'comfyui-upscale']);
  });

  it('serves no template when the folder is not set', () => {
    const result = load(undefined);
    expect(result.ok && result.templates.size).toBe(0);
  });

  it('reports every broken file at once, naming the file and the field', () => {
    const dir = folder({ 'bad.json': '{"inputs": {}, "outputs": {"x": {"node": "1"}}, "workflow": {"1": {"class_type": "SaveImage"}}}', 'worse.json': '[' }, ['upscale.json']);
    const result = load(dir);
    expect(!result.ok && result.problems).toEqual([
      expect.stringMatching(/bad\.json: workflow: .*node "1"\.inputs/),
      expect.stringMatching(/worse\.json: is not valid JSON/),
    ]);
  });

  it('refuses two templates that would register one TaskDef', () => {
    const text = JSON.stringify({ version: 2, inputs: {}, outputs: { images: { node: '9' } }, workflow: { '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'x' } } } });
    const dir = folder({ 'upscale.json': text, 'upscale-v2.json': text.replace('"version":2,', '') });
    const result = load(dir);
    expect(!result.ok && result.problems).toEqual([expect.stringContaining('upscale.json: registers TaskDef comfyui-upscale-v2, as')]);
  });

  it('names a folder that does not exist or holds no template', () => {
    expect(!load('/nonexistent/templates').ok).toBe(true);
    const empty = load(folder());
    expect(!empty.ok && empty.problems[0]).toContain('holds no template');
  });
});

describe('checking the templates against a running ComfyUI', () => {
  let comfy: FakeComfy | undefined;
  async function client() {
    comfy = await startFakeComfy();
    const http = new ComfyHttp({ baseUrl: comfy.url, timeoutMs: 2_000, retries: 0 });
    cleanup.push(() => http.close(), () => comfy?.stop());
    return new ComfyClient(http);
  }

  it('accepts the shipped templates after one GET /object_info', async () => {
    const comfyClient = await client();
    const loaded = load(shipped);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const checked = await checkTemplatesOnComfy(loaded.templates, comfyClient);
    expect(checked.ok).toBe(true);
    expect(comfy!.stats.requests['GET /object_info']).toBe(1);
  });

  it('refuses a template by name, with the reason, when ComfyUI lacks its model', async () => {
    const comfyClient = await client();
    const text = JSON.stringify({
      inputs: {},
      outputs: { images: { node: '5' } },
      workflow: {
        '2': { class_type: 'UpscaleModelLoader', inputs: { model_name: 'SwinIR_4x.pth' } },
        '1': { class_type: 'LoadImage', inputs: { image: 'in.png' } },
        '3': { class_type: 'ImageUpscaleWithModel', inputs: { upscale_model: ['2', 0], image: ['1', 0] } },
        '5': { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: 'x' } },
      },
    });
    const loaded = load(folder({ 'swinir.json': text }));
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const checked = await checkTemplatesOnComfy(loaded.templates, comfyClient);
    expect(!checked.ok && checked.problems).toEqual([
      expect.stringMatching(/^template swinir \(.*swinir\.json\) cannot run on this ComfyUI: node 1 \(LoadImage\) input image: is not in ComfyUI's list \(empty\)/),
      expect.stringMatching(/^template swinir .*: node 2 \(UpscaleModelLoader\) input model_name: is not in ComfyUI's list/),
    ]);
  });
});
