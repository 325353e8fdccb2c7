// The simulated ComfyUI's runs: message orders, routing and outputs.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, fakeComfyFixture, forPrompt, get, isEnd, post, sleep, txt2img } from './support/comfy-probe.js';

const start = fakeComfyFixture();

describe('fake ComfyUI runs', () => {
  it('a valid prompt returns a prompt id and its history appears with output files that exist on disk', async () => {
    const comfy = await start();
    const res = await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'c1' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ number: 0, node_errors: {} });
    const id = res.json.prompt_id as string;
    await new Promise((r) => comfy.events.once('history-written', r));
    const history = await get(comfy.url, `/history/${id}`);
    const entry = history[id];
    expect(entry.status).toMatchObject({ status_str: 'success', completed: true });
    expect(entry.prompt.slice(0, 2)).toEqual([0, id]);
    expect(entry.prompt[4]).toEqual(['9']);
    const image = entry.outputs['9'].images[0];
    expect(image).toEqual({ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' });
    expect(existsSync(path.join(comfy.outputDir, image.filename))).toBe(true);
    expect(entry.status.messages.map((m: [string]) => m[0])).toEqual(['execution_start', 'execution_cached', 'execution_success']);
  });

  it('messages arrive in ComfyUI order for a normal run, with history written before the final executing', async () => {
    const comfy = await start();
    const c = await connect(comfy.url, 'order');
    expect(c.messages[0]).toMatchObject({ type: 'status', data: { sid: 'order', status: { exec_info: { queue_remaining: 0 } } } });
    const { json } = await post(comfy.url, '/api/prompt', { prompt: txt2img(), client_id: 'order' });
    await c.waitFor(isEnd(json.prompt_id));
    const seq = forPrompt(c, json.prompt_id)
      .filter((m) => m.type !== 'progress_state')
      .map((m) => (m.type === 'executing' || m.type === 'executed' ? `${m.type}:${m.data.node}` : m.type));
    expect(seq).toEqual([
      'execution_start', 'execution_cached',
      'executing:4', 'executing:6', 'executing:7', 'executing:5', 'executing:3',
      'progress', 'progress', 'progress', 'progress',
      'executing:8', 'executing:9', 'executed:9', 'execution_success', 'executing:null',
    ]);
    expect(c.binary.length).toBeGreaterThan(0);
    expect(c.binary[0]?.readUInt32BE(0)).toBe(1);
    const lastStatus = c.messages.filter((m) => m.type === 'status').at(-1);
    expect(lastStatus?.data).toEqual({ status: { exec_info: { queue_remaining: 0 } } });
    // history was recorded before `executing {node: null}` went out
    expect(comfy.history(json.prompt_id)).toBeDefined();
  });

  it('a cached run sends start, cached with every node id, the outputs and success, but no per-node executing', async () => {
    const comfy = await start();
    comfy.script({ kind: 'cached' });
    const c = await connect(comfy.url, 'cache');
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'cache' });
    await c.waitFor(isEnd(json.prompt_id));
    const msgs = forPrompt(c, json.prompt_id).filter((m) => m.type !== 'progress_state');
    expect(msgs.map((m) => m.type)).toEqual(['execution_start', 'execution_cached', 'executed', 'execution_success', 'executing']);
    expect((msgs[1]?.data.nodes as string[]).sort()).toEqual(['3', '4', '5', '6', '7', '8', '9']);
    expect(comfy.history(json.prompt_id)?.outputs['9']).toBeDefined();
  });

  it('a failing node ends with execution_error and an error history', async () => {
    const comfy = await start();
    comfy.script({ kind: 'error', nodeId: '8', exceptionType: 'torch.OutOfMemoryError', message: 'CUDA out of memory' });
    const c = await connect(comfy.url, 'err');
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'err' });
    await c.waitFor(isEnd(json.prompt_id));
    const types = forPrompt(c, json.prompt_id).map((m) => m.type);
    expect(types).not.toContain('execution_success');
    expect(types).not.toContain('executed');
    const err = await c.waitFor((m) => m.type === 'execution_error');
    expect(err.data).toMatchObject({
      prompt_id: json.prompt_id, node_id: '8', node_type: 'VAEDecode',
      exception_type: 'torch.OutOfMemoryError', exception_message: 'CUDA out of memory\n',
      executed: ['4', '6', '7', '5', '3'],
    });
    expect(Array.isArray(err.data.traceback)).toBe(true);
    expect(types.indexOf('execution_error')).toBeLessThan(types.lastIndexOf('executing'));
    const entry = comfy.history(json.prompt_id);
    expect(entry?.status).toMatchObject({ status_str: 'error', completed: false });
    expect(entry?.status.messages.map((m) => m[0])).toEqual(['execution_start', 'execution_cached', 'execution_error']);
  });

  it('an interrupted run ends with execution_interrupted and an error history', async () => {
    const comfy = await start();
    comfy.script({ kind: 'interrupted' });
    const c = await connect(comfy.url, 'intr');
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'intr' });
    await c.waitFor(isEnd(json.prompt_id));
    const msg = await c.waitFor((m) => m.type === 'execution_interrupted');
    expect(msg.data).toMatchObject({ prompt_id: json.prompt_id, node_id: '3', node_type: 'KSampler' });
    expect(comfy.history(json.prompt_id)?.status).toMatchObject({ status_str: 'error', completed: false });
    expect(comfy.history(json.prompt_id)?.outputs).toEqual({});
  });

  it('execution events go only to the submitting client; status goes to everyone', async () => {
    const comfy = await start();
    const mine = await connect(comfy.url, 'mine');
    const other = await connect(comfy.url, 'other');
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'mine' });
    await mine.waitFor(isEnd(json.prompt_id));
    await sleep(20);
    expect(new Set(other.messages.map((m) => m.type))).toEqual(new Set(['status']));
    expect(other.messages.length).toBeGreaterThan(1);
    expect(other.binary).toHaveLength(0);
  });

  it('output nodes write ComfyUI-style names and keys for every kind of output', async () => {
    const comfy = await start();
    const graph = txt2img({
      '10': { class_type: 'PreviewImage', inputs: { images: ['8', 0] } },
      '11': { class_type: 'VHS_VideoCombine', inputs: { images: ['8', 0], frame_rate: 8, loop_count: 0, filename_prefix: 'AnimateDiff', format: 'video/h264-mp4', pingpong: false, save_output: true } },
      '12': { class_type: 'MyCustomSaver', inputs: { images: ['8', 0], filename_prefix: 'custom/mesh' } },
      '13': { class_type: 'PreviewAny', inputs: { source: 'hello' } },
      '14': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'ComfyUI' } },
    });
    const { json } = await post(comfy.url, '/prompt', { prompt: graph });
    await new Promise((r) => comfy.events.once('history-written', r));
    const out = comfy.history(json.prompt_id)?.outputs ?? {};
    expect((out['14']?.images as Array<{ filename: string }>)[0]?.filename).toBe('ComfyUI_00002_.png');
    expect((out['10']?.images as Array<{ type: string }>)[0]?.type).toBe('temp');
    expect(out['11']?.gifs).toMatchObject([{ filename: 'AnimateDiff_00001.mp4', format: 'video/h264-mp4', frame_rate: 8 }]);
    expect(out['12']).toMatchObject({ meshes: [{ filename: 'mesh_00001_.obj', subfolder: 'custom' }], vertex_count: [3] });
    expect(out['13']).toEqual({ text: ['hello'] });
    expect(existsSync(path.join(comfy.outputDir, 'custom', 'mesh_00001_.obj'))).toBe(true);
    comfy.hostileFilenames = true;
    const hostile = await post(comfy.url, '/prompt', { prompt: txt2img() });
    await new Promise((r) => comfy.events.once('history-written', r));
    const images = comfy.history(hostile.json.prompt_id)?.outputs['9']?.images as Array<{ filename: string; subfolder: string }>;
    expect(images[0]?.filename).toBe('../escape.png');
    expect(path.isAbsolute(images[1]?.subfolder ?? '')).toBe(true);
  });
});
