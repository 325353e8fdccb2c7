// The simulated ComfyUI's fault switches: silent and dropped sockets, slow history, restarts, failures.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, fakeComfyFixture, get, isEnd, post, sleep, txt2img } from './support/comfy-probe.js';

const start = fakeComfyFixture();

describe('fake ComfyUI faults', () => {
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
});
