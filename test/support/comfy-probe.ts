// Talking to the simulated ComfyUI from its own tests: a fixture that stops it after each test,
// a sample workflow, and a WebSocket client that keeps every message.
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { startFakeComfy, type FakeComfy, type FakeComfyOptions } from '../../devstack/comfyui/index.js';

export type Msg = { type: string; data: Record<string, unknown> };
// Response bodies are read loosely: each test asserts on the shape it cares about.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

/** `start()` launches the simulated ComfyUI (20 ms runs unless told otherwise); it stops after each test. */
export function fakeComfyFixture(): (opts?: FakeComfyOptions) => Promise<FakeComfy> {
  let fake: FakeComfy | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });
  return async (opts = {}) => {
    fake = await startFakeComfy({ runTimeMs: 20, ...opts });
    return fake;
  };
}

export function txt2img(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' } },
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

export interface Client {
  ws: WebSocket;
  messages: Msg[];
  binary: Buffer[];
  waitFor(pred: (m: Msg) => boolean, ms?: number): Promise<Msg>;
}

export async function connect(url: string, clientId: string): Promise<Client> {
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

export async function post(url: string, route: string, body: unknown): Promise<{ status: number; json: Loose }> {
  const res = await fetch(url + route, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
export const get = async (url: string, route: string): Promise<Loose> => (await fetch(url + route)).json();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const isEnd = (id: string) => (m: Msg) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === id;
export const forPrompt = (c: Client, id: string) => c.messages.filter((m) => m.data.prompt_id === id);
