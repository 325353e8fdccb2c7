import { afterEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';

let comfy: FakeComfy | undefined;
afterEach(async () => {
  await comfy?.stop();
  comfy = undefined;
});

const get = async (path: string) => {
  const reply = await fetch(`${comfy!.url}${path}`);
  return { status: reply.status, body: (await reply.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- a JSON reply, read field by field
};

describe('the simulated ComfyUI\'s GET /object_info', () => {
  it('describes a class the way server.py node_info does, widgets with their ranges and combos with their lists', async () => {
    comfy = await startFakeComfy();
    const { status, body } = await get('/object_info/KSampler');
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['KSampler']);
    const ksampler = body.KSampler;
    expect(ksampler.input.required.model).toEqual(['MODEL', {}]);
    expect(ksampler.input.required.steps).toEqual(['INT', { default: 20, min: 1, max: 10000 }]);
    expect(ksampler.input.required.seed[1].max).toBe(2 ** 64 - 1);
    expect(ksampler.input.required.sampler_name[0]).toContain('euler');
    expect(ksampler).toMatchObject({ name: 'KSampler', output: ['LATENT'], output_node: false, category: 'sampling' });
  });

  it('answers every class it validates with, under /api too, and {} (200) for a class it does not have', async () => {
    comfy = await startFakeComfy();
    const all = await get('/api/object_info');
    expect(Object.keys(all.body)).toEqual(expect.arrayContaining(['CheckpointLoaderSimple', 'SaveImage', 'UpscaleModelLoader', 'ImageUpscaleWithModel', 'ImageScaleBy']));
    expect(all.body.SaveImage.output_node).toBe(true);
    expect(await get('/object_info/NoSuchNode')).toEqual({ status: 200, body: {} });
  });
});
