// The live socket against the simulated ComfyUI: a silent connection declared dead within its
// ping interval + pong timeout, a quiet but answering one kept, and a prompt reconnect once ComfyUI
// answers over HTTP again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import { ComfyHttp } from '../lib/comfyui/http.js';
import { LiveSocket, type LiveSocketOptions } from '../lib/comfyui/live-socket.js';
import { quietLogger } from './support/handler-deps.js';

let comfy: FakeComfy;
const opened: Array<{ close(): void }> = [];
beforeEach(async () => {
  comfy = await startFakeComfy();
});
afterEach(async () => {
  for (const thing of opened.splice(0)) thing.close();
  await comfy.stop();
});

async function connectedSocket(options: Partial<LiveSocketOptions> = {}) {
  const live = new LiveSocket({ baseUrl: comfy.url, clientId: 'live-test', logger: quietLogger, ...options });
  opened.push(live);
  live.start();
  expect(await live.waitUntilConnected(2_000)).toBe(true);
  const signals: string[] = [];
  live.listen((signal) => signals.push(signal.type));
  return { live, signals };
}

const disconnected = (live: LiveSocket) =>
  new Promise<number>((resolve) => {
    const unlisten = live.listen((signal) => {
      if (signal.type !== 'disconnected') return;
      unlisten();
      resolve(Date.now());
    });
  });

describe('the live socket', () => {
  it('declares a socket that goes silent (no messages, no pongs) dead within ping interval + pong timeout', async () => {
    const pingIntervalMs = 150;
    const pongTimeoutMs = 100;
    const { live } = await connectedSocket({ pingIntervalMs, pongTimeoutMs });
    const lost = disconnected(live);
    const silentAt = Date.now();
    comfy.silent = true;
    const elapsed = (await lost) - silentAt;
    // Worst case is pingIntervalMs + pongTimeoutMs; twice that leaves room for a loaded machine.
    expect(elapsed).toBeLessThan(2 * (pingIntervalMs + pongTimeoutMs));
  });

  it('declares a silent socket dead within 5 s with its default intervals', { timeout: 10_000 }, async () => {
    const { live } = await connectedSocket();
    const lost = disconnected(live);
    const silentAt = Date.now();
    comfy.silent = true;
    expect((await lost) - silentAt).toBeLessThan(5_000);
  });

  it('keeps a quiet connection open while ComfyUI answers its pings', async () => {
    const { signals } = await connectedSocket({ pingIntervalMs: 50, pongTimeoutMs: 30 });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(signals).toEqual([]);
    expect(comfy.stats.wsConnections).toBe(1);
  });

  it('reports a lost connection once, not once per failed reconnect attempt', async () => {
    const { live, signals } = await connectedSocket({ reconnectDelayMs: { first: 20, max: 40 } });
    comfy.refuseSockets = true;
    const lost = disconnected(live);
    comfy.dropSockets();
    await lost;
    await new Promise((resolve) => setTimeout(resolve, 300)); // several refused attempts
    comfy.refuseSockets = false;
    expect(await live.waitUntilConnected(1_000)).toBe(true);
    expect(signals).toEqual(['disconnected', 'connected']);
  });

  it('reconnects at once when ComfyUI answers over HTTP, not at the end of its backoff', async () => {
    const { live } = await connectedSocket({ reconnectDelayMs: { first: 20_000, max: 20_000 } });
    const http = new ComfyHttp({ baseUrl: comfy.url, timeoutMs: 2_000, retries: 0, onAnswer: () => live.reconnectNow() });
    opened.push(http);
    const lost = disconnected(live);
    comfy.restart(); // cuts every socket
    await lost;
    await http.json('GET', '/system_stats');
    expect(await live.waitUntilConnected(1_000)).toBe(true);
  });
});
