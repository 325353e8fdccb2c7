import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFakeComfy, type FakeComfy, type FakeComfyOptions } from '../devstack/comfyui/index.js';

type Msg = { type: string; data: Record<string, unknown> };
// Response bodies are read loosely: each test asserts on the shape it cares about.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

let fake: FakeComfy | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function start(opts: FakeComfyOptions = {}): Promise<FakeComfy> {
  fake = await startFakeComfy({ runTimeMs: 20, ...opts });
  return fake;
}

function txt2img(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] } },
    '3': {
      class_type: 'KSampler',
      inputs: {
        model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0],
        seed: 1, steps: 4, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise: 1,
      },
    },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'ComfyUI' } },
    ...extra,
  };
}

interface Client {
  ws: WebSocket;
  messages: Msg[];
  binary: Buffer[];
  waitFor(pred: (m: Msg) => boolean, ms?: number): Promise<Msg>;
}

async function connect(url: string, clientId: string): Promise<Client> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws?clientId=${clientId}`);
  const messages: Msg[] = [];
  const binary: Buffer[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    if (isBinary) binary.push(data as Buffer);
    else messages.push(JSON.parse(String(data)) as Msg);
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  const waitFor = (pred: (m: Msg) => boolean, ms = 3000) =>
    new Promise<Msg>((resolve, reject) => {
      const check = () => {
        const hit = messages.find(pred);
        if (!hit) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching message; got ${messages.map((m) => m.type).join(',')}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { ws, messages, binary, waitFor };
}

async function post(url: string, route: string, body: unknown): Promise<{ status: number; json: Loose }> {
  const res = await fetch(url + route, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
const get = async (url: string, route: string): Promise<Loose> => (await fetch(url + route)).json();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isEnd = (id: string) => (m: Msg) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === id;
const forPrompt = (c: Client, id: string) => c.messages.filter((m) => m.data.prompt_id === id);

describe('fake ComfyUI', () => {
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

  it('an unknown class_type is a 400 invalid_prompt with node_errors', async () => {
    const comfy = await start();
    const res = await post(comfy.url, '/prompt', { prompt: txt2img({ '10': { class_type: 'NoSuchNode', inputs: {} } }) });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ type: 'invalid_prompt', details: "Node ID '#10'" });
    expect(res.json.node_errors).toEqual({}); // execution.py gives no per-node detail for this case
    expect(comfy.stats.promptsSubmitted).toBe(0);
  });

  it('a missing required input or a link to an unknown node is a 400 with per-node errors', async () => {
    const comfy = await start();
    const missing = txt2img({ '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0] } } });
    const res = await post(comfy.url, '/prompt', { prompt: missing });
    expect(res.status).toBe(400);
    expect(res.json.error.type).toBe('prompt_outputs_failed_validation');
    expect(res.json.node_errors['8']).toMatchObject({
      class_type: 'VAEDecode', dependent_outputs: ['9'],
      errors: [{ type: 'required_input_missing', details: 'vae', extra_info: { input_name: 'vae' } }],
    });
    const dangling = await post(comfy.url, '/prompt', { prompt: txt2img({ '9': { class_type: 'SaveImage', inputs: { images: ['99', 0], filename_prefix: 'x' } } }) });
    expect(dangling.status).toBe(400);
    expect(dangling.json.node_errors['9'].errors[0]).toMatchObject({ type: 'exception_during_validation', details: "'99'" });
  });

  it('a workflow without an output node is a 400 prompt_no_outputs; a body without prompt is no_prompt', async () => {
    const comfy = await start();
    const graph = txt2img();
    delete graph['9'];
    const res = await post(comfy.url, '/prompt', { prompt: graph });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, node_errors: {} });
    const none = await post(comfy.url, '/prompt', { client_id: 'x' });
    expect(none.status).toBe(400);
    expect(none.json.error.type).toBe('no_prompt');
  });

  it('/view serves an output file and refuses .. and escaping subfolders', async () => {
    const comfy = await start();
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img() });
    await new Promise((r) => comfy.events.once('history-written', r));
    const image = comfy.history(json.prompt_id)?.outputs['9']?.images as Array<{ filename: string }>;
    const name = image[0]?.filename ?? '';
    const ok = await fetch(`${comfy.url}/api/view?filename=${name}&subfolder=&type=output`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-disposition')).toBe(`filename="${name}"`);
    expect(Buffer.from(await ok.arrayBuffer())).toEqual(readFileSync(path.join(comfy.outputDir, name)));
    expect((await fetch(`${comfy.url}/view?filename=../${name}`)).status).toBe(400);
    expect((await fetch(`${comfy.url}/view?filename=%2Fetc%2Fpasswd`)).status).toBe(400);
    expect((await fetch(`${comfy.url}/view?filename=${name}&subfolder=..`)).status).toBe(403);
    expect((await fetch(`${comfy.url}/view?filename=${name}&subfolder=%2Fetc`)).status).toBe(403);
    expect((await fetch(`${comfy.url}/view?filename=absent.png`)).status).toBe(404);
  });

  it('a pending prompt can be deleted and never runs', async () => {
    const comfy = await start({ runTimeMs: 200 });
    const started: string[] = [];
    comfy.events.on('started', (id: string) => started.push(id));
    const a = (await post(comfy.url, '/prompt', { prompt: txt2img() })).json.prompt_id as string;
    const b = (await post(comfy.url, '/prompt', { prompt: txt2img() })).json.prompt_id as string;
    const queue = await get(comfy.url, '/queue');
    expect(queue.queue_running.map((i: unknown[]) => i[1])).toEqual([a]);
    expect(queue.queue_pending.map((i: unknown[]) => i[1])).toEqual([b]);
    expect(queue.queue_pending[0]).toHaveLength(5);
    expect((await post(comfy.url, '/queue', { delete: [a, b] })).status).toBe(200);
    await new Promise((r) => comfy.events.once('history-written', r));
    await sleep(50);
    expect(started).toEqual([a]);
    expect(comfy.history(a)?.status.status_str).toBe('success'); // deleting the running prompt does nothing
    expect(await get(comfy.url, `/history/${b}`)).toEqual({});
    expect(comfy.stats.deletes).toEqual([a, b]);
  });

  it('a scoped interrupt ignores other prompts and stops the named running one', async () => {
    const comfy = await start({ runTimeMs: 300 });
    const c = await connect(comfy.url, 'scoped');
    const a = (await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'scoped' })).json.prompt_id as string;
    const b = (await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'scoped' })).json.prompt_id as string;
    await c.waitFor((m) => m.type === 'executing' && m.data.prompt_id === a);
    await post(comfy.url, '/interrupt', { prompt_id: b });
    await c.waitFor(isEnd(a));
    expect(comfy.history(a)?.status.status_str).toBe('success');
    await c.waitFor((m) => m.type === 'executing' && m.data.prompt_id === b && m.data.node === '5');
    await post(comfy.url, '/interrupt', { prompt_id: b });
    await c.waitFor(isEnd(b));
    expect(forPrompt(c, b).map((m) => m.type)).toContain('execution_interrupted');
    expect(comfy.stats.interrupts).toEqual([{ promptId: b }, { promptId: b }]);
  });

  it('the global interrupt of an old server stops whatever runs', async () => {
    const comfy = await start({ runTimeMs: 300, scopedInterrupt: false });
    const c = await connect(comfy.url, 'old');
    const a = (await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'old' })).json.prompt_id as string;
    await c.waitFor((m) => m.type === 'executing' && m.data.prompt_id === a);
    await post(comfy.url, '/interrupt', { prompt_id: 'someone-else' });
    await c.waitFor(isEnd(a));
    expect(comfy.history(a)?.status.status_str).toBe('error');
  });

  it('silent keeps sockets open without sending any message', async () => {
    const comfy = await start();
    comfy.silent = true;
    const c = await connect(comfy.url, 'quiet');
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'quiet' });
    await new Promise((r) => comfy.events.once('history-written', r));
    await sleep(30);
    expect(c.messages).toEqual([]);
    expect(c.binary).toEqual([]);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect((await get(comfy.url, `/history/${json.prompt_id}`))[json.prompt_id]).toBeDefined();
  });

  it('dropSockets closes every socket; refuseSockets refuses new ones while HTTP still works', async () => {
    const comfy = await start();
    const c = await connect(comfy.url, 'drop');
    const closed = new Promise((r) => c.ws.once('close', r));
    comfy.dropSockets();
    await closed;
    comfy.refuseSockets = true;
    await expect(connect(comfy.url, 'drop')).rejects.toThrow(/503/);
    expect((await fetch(`${comfy.url}/system_stats`)).status).toBe(200);
    comfy.refuseSockets = false;
    await connect(comfy.url, 'drop');
    expect(comfy.stats.wsConnections).toBe(2);
  });

  it('historyDelayMs delays the history entry and the final executing', async () => {
    const comfy = await start();
    comfy.historyDelayMs = 150;
    const c = await connect(comfy.url, 'slow');
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'slow' });
    await c.waitFor((m) => m.type === 'execution_success');
    const t0 = Date.now();
    expect(await get(comfy.url, `/history/${json.prompt_id}`)).toEqual({});
    expect((await get(comfy.url, '/queue')).queue_running).toHaveLength(1);
    await c.waitFor(isEnd(json.prompt_id));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect((await get(comfy.url, `/history/${json.prompt_id}`))[json.prompt_id]).toBeDefined();
  });

  it('restart forgets history, queue and the running prompt', async () => {
    const comfy = await start();
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img() });
    await new Promise((r) => comfy.events.once('history-written', r));
    comfy.runTimeMs = 200;
    const running = (await post(comfy.url, '/prompt', { prompt: txt2img() })).json.prompt_id as string;
    comfy.restart();
    expect(await get(comfy.url, `/history/${json.prompt_id}`)).toEqual({});
    expect(await get(comfy.url, '/queue')).toEqual({ queue_running: [], queue_pending: [] });
    await sleep(300);
    expect(comfy.history(running)).toBeUndefined();
    comfy.runTimeMs = 0;
    const next = await post(comfy.url, '/prompt', { prompt: txt2img() });
    expect(next.json.number).toBe(0);
  });

  it('failNext answers 503 to the next requests of a route only', async () => {
    const comfy = await start();
    comfy.failNext(2, 503, '/history');
    expect((await fetch(`${comfy.url}/queue`)).status).toBe(200);
    expect((await fetch(`${comfy.url}/history/abc`)).status).toBe(503);
    expect((await fetch(`${comfy.url}/api/history`)).status).toBe(503);
    expect((await fetch(`${comfy.url}/history/abc`)).status).toBe(200);
    comfy.failNext(1);
    expect((await fetch(`${comfy.url}/system_stats`)).status).toBe(503);
    expect(comfy.stats.requests['GET /history']).toBe(3);
  });

  it('a caller-chosen prompt_id is used, a malformed one refused, and ignored by an older server', async () => {
    const comfy = await start();
    const id = randomUUID();
    expect((await post(comfy.url, '/prompt', { prompt: txt2img(), prompt_id: id })).json.prompt_id).toBe(id);
    const bad = await post(comfy.url, '/prompt', { prompt: txt2img(), prompt_id: 'job-1' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.type).toBe('invalid_prompt_id');
    await comfy.stop();
    const old = await start({ acceptsPromptId: false });
    expect((await post(old.url, '/prompt', { prompt: txt2img(), prompt_id: id })).json.prompt_id).not.toBe(id);
  });

  it('reconnecting with the same clientId re-sends the node being executed', async () => {
    const comfy = await start({ runTimeMs: 400 });
    const first = await connect(comfy.url, 'again');
    const { json } = await post(comfy.url, '/prompt', { prompt: txt2img(), client_id: 'again' });
    await first.waitFor((m) => m.type === 'executing' && m.data.node === '6');
    first.ws.close();
    await new Promise((r) => first.ws.once('close', r));
    const second = await connect(comfy.url, 'again');
    expect(second.messages[0]?.type).toBe('status');
    expect(second.messages[1]?.type).toBe('executing');
    expect(typeof second.messages[1]?.data.node).toBe('string');
    await second.waitFor(isEnd(json.prompt_id));
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
