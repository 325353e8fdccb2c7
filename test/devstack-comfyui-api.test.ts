// The simulated ComfyUI's HTTP API: validation, /view, the queue, interrupts and prompt ids.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, fakeComfyFixture, forPrompt, get, isEnd, post, sleep, txt2img } from './support/comfy-probe.js';

const start = fakeComfyFixture();

describe('fake ComfyUI HTTP API', () => {
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
});
