import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { objectInfo } from '../devstack/comfyui/object-info.js';
import { checkTemplateOnComfy, type ObjectInfo, objectInfoSchema } from '../functions/templates/comfy-check.js';
import { parseTemplate, type Template } from '../functions/templates/template.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are edited freely, field by field
type Fixture = any;

const inputDir = mkdtempSync(path.join(tmpdir(), 'object-info-'));
afterAll(() => rmSync(inputDir, { recursive: true, force: true }));
/** The simulator's catalogue, as the worker reads it. */
const simulated: ObjectInfo = objectInfoSchema.parse(JSON.parse(JSON.stringify(objectInfo(inputDir))));

function template(name: string, edit: (t: Fixture) => void = () => {}): Template {
  const json = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../templates', `${name}.json`), 'utf8'));
  edit(json);
  const result = parseTemplate(`templates/${name}.json`, JSON.stringify(json));
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.template;
}

const problems = (t: Template, info = simulated) => {
  const result = checkTemplateOnComfy(t, info);
  return result.ok ? [] : result.problems;
};

describe('checking a template against ComfyUI\'s object_info', () => {
  it('accepts the shipped templates on the simulator', () => {
    for (const name of ['text-to-image', 'image-to-image', 'upscale']) expect(problems(template(name))).toEqual([]);
  });

  it('holds a media input\'s file-name default against ComfyUI\'s input files, but not a URI it will upload first', () => {
    const uri = template('upscale', (x) => (x.inputs.image.default = 'https://example.com/cat.png'));
    expect(problems(uri)).toEqual([]);
    const name = template('upscale', (x) => (x.inputs.image.default = 'missing.png'));
    expect(problems(name)).toEqual([expect.stringContaining('inputs.image → 1.inputs.image (LoadImage): "missing.png" is not in ComfyUI\'s list')]);
  });

  it('refuses a node class ComfyUI does not have', () => {
    const t = template('text-to-image', (x) => (x.workflow['8'].class_type = 'VAEDecodeTiledPlus'));
    expect(problems(t)).toEqual(['node 8: ComfyUI has no node class VAEDecodeTiledPlus (a custom node not installed?)']);
  });

  it('refuses a checkpoint the graph names that is not in ComfyUI\'s list', () => {
    const t = template('upscale', (x) => {
      x.workflow['2'].inputs.model_name = 'missing.pth';
      delete x.inputs.model;
    });
    expect(problems(t)).toEqual([expect.stringMatching(/^node 2 \(UpscaleModelLoader\) input model_name: is not in ComfyUI's list \("RealESRGAN_x4plus\.pth", "4x-UltraSharp\.pth"\)/)]);
  });

  it('refuses a default or an enum value that is not in ComfyUI\'s list', () => {
    const t = template('image-to-image', (x) => {
      x.inputs.checkpoint.default = 'sdxl-turbo.safetensors';
      x.inputs.sampler = { type: 'STR', targets: ['3.inputs.sampler_name'], enum: ['euler', 'my_sampler'] };
    });
    expect(problems(t)).toEqual([
      expect.stringMatching(/^inputs\.checkpoint → 4\.inputs\.ckpt_name \(CheckpointLoaderSimple\): "sdxl-turbo\.safetensors" is not in ComfyUI's list/),
      expect.stringMatching(/^inputs\.sampler → 3\.inputs\.sampler_name \(KSampler\): "my_sampler" is not in ComfyUI's list/),
    ]);
  });

  it('refuses a target input ComfyUI\'s node does not have', () => {
    const t = template('text-to-image', (x) => {
      x.workflow['3'].inputs.eta = 0.5;
      x.inputs.eta = { type: 'DOUBLE', targets: ['3.inputs.eta'] };
    });
    expect(problems(t)).toEqual(["inputs.eta → 3.inputs.eta (KSampler): ComfyUI's KSampler has no input eta"]);
  });

  it('refuses an input type that cannot fill the target\'s type', () => {
    const t = template('text-to-image', (x) => {
      x.workflow['5'].inputs.width = 512.5;
      x.inputs.width = { type: 'DOUBLE', targets: ['5.inputs.width'] };
    });
    expect(problems(t)).toEqual(['inputs.width → 5.inputs.width (EmptyLatentImage): ComfyUI expects INT there, which a DOUBLE input cannot fill']);
  });

  it('refuses a default outside ComfyUI\'s range', () => {
    const t = template('image-to-image', (x) => {
      x.inputs.denoise.max = 2;
      x.inputs.denoise.default = 1.5;
    });
    expect(problems(t)).toEqual(["inputs.denoise → 3.inputs.denoise (KSampler): 1.5 is above ComfyUI's maximum 1"]);
  });

  it('refuses a named output that is not an output node', () => {
    const t = template('text-to-image', (x) => (x.outputs.images.node = '8'));
    expect(problems(t)).toEqual(['outputs.images: node 8 (VAEDecode) is not an output node in ComfyUI, so it records no outputs']);
  });

  it('narrows an input\'s bounds to ComfyUI\'s so a value ComfyUI would refuse is refused first', () => {
    const t = template('text-to-image', (x) => {
      delete x.inputs.steps.max;
      x.inputs.width.max = 100000;
    });
    const result = checkTemplateOnComfy(t, simulated);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const byName = Object.fromEntries(result.template.inputs.map((i) => [i.name, i]));
    expect(byName.steps).toMatchObject({ min: 1, max: 10000 });
    expect(byName.width).toMatchObject({ min: 64, max: 16384 });
    expect(byName.seed).toMatchObject({ min: 0 });
  });

  it('reads combos in the v3 schema form ("COMBO" with options) as recent ComfyUI sends them', () => {
    const info = structuredClone(simulated);
    info.KSampler!.input.required!.sampler_name = ['COMBO', { options: ['euler', 'dpmpp_2m'], multiselect: false }];
    const t = template('text-to-image');
    expect(problems(t, info)).toEqual([
      expect.stringMatching(/^inputs\.sampler → 3\.inputs\.sampler_name \(KSampler\): "euler_ancestral" is not in ComfyUI's list \("euler", "dpmpp_2m"\)/),
      expect.stringMatching(/"dpmpp_sde" is not in ComfyUI's list/),
    ]);
  });

  it('lists the input folder\'s files as LoadImage\'s options, as ComfyUI does', () => {
    const info = objectInfo(inputDir, 'LoadImage') as { LoadImage: { input: { required: { image: unknown[] } } } };
    expect(info.LoadImage.input.required.image).toEqual([[], { image_upload: true }]);
    expect(objectInfo(inputDir, 'NoSuchNode')).toEqual({});
  });
});
