import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { FailureError } from '../functions/execute-comfyui-workflow/failure.js';
import type { Workflow } from '../functions/execute-comfyui-workflow/workflow.js';
import { ComfyClient } from '../lib/comfyui/client.js';
import { ComfyHttp } from '../lib/comfyui/http.js';

const workflow = txt2img as Workflow;
let comfy: FakeComfy;
let http: ComfyHttp;
let client: ComfyClient;

beforeEach(async () => {
  comfy = await startFakeComfy();
  http = new ComfyHttp({ baseUrl: comfy.url, timeoutMs: 2_000, retries: 2 });
  client = new ComfyClient(http);
});
afterEach(async () => {
  http.close();
  await comfy.stop();
});

async function untilHistory(promptId: string) {
  for (let i = 0; i < 100; i++) {
    const entry = await client.getHistory(promptId);
    if (entry) return entry;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no history');
}

describe('the ComfyUI client', () => {
  it('returns the history entry of a finished prompt, and nothing before', async () => {
    comfy.runTimeMs = 200;
    const { promptId } = await client.submitPrompt({ workflow });
    expect(await client.getHistory(promptId)).toBeUndefined();
    const entry = await untilHistory(promptId);
    expect(entry.status?.status_str).toBe('success');
    expect(Object.keys(entry.outputs)).toEqual(['9']);
  });

  it('submits under a caller-chosen prompt id', async () => {
    const { promptId } = await client.submitPrompt({ workflow, promptId: '0b6a3b52-5b8e-4a53-9c43-3f1f6e0d6a11' });
    expect(promptId).toBe('0b6a3b52-5b8e-4a53-9c43-3f1f6e0d6a11');
  });

  it('sees a prompt in the queue while it runs', async () => {
    comfy.runTimeMs = 300;
    const { promptId } = await client.submitPrompt({ workflow });
    expect(await client.isInQueue(promptId)).toBe(true);
    await untilHistory(promptId);
    expect(await client.isInQueue(promptId)).toBe(false);
  });

  it('turns a 400 into a validation failure that names each node error', async () => {
    const broken = { ...workflow, '3': { ...workflow['3']!, inputs: { ...workflow['3']!.inputs, model: undefined } } };
    const error = await client.submitPrompt({ workflow: JSON.parse(JSON.stringify(broken)) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailureError);
    const failure = (error as FailureError).failure;
    expect(failure).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-workflow' });
    expect(failure.message).toContain('node 3 (KSampler)');
    expect(JSON.stringify(failure.details)).toContain('"node_id":"3"');
  });

  it('retries a 5xx and succeeds when ComfyUI recovers', async () => {
    comfy.failNext(2, 503);
    const { promptId } = await client.submitPrompt({ workflow });
    expect(promptId).toMatch(/.+/);
  });

  it('does not queue a prompt twice when ComfyUI accepted it but the answer was cut off', async () => {
    comfy.loseNextPromptAnswers(1, 'reset');
    const { promptId } = await client.submitPrompt({ workflow, promptId: '0b6a3b52-5b8e-4a53-9c43-3f1f6e0d6a12' });
    expect(promptId).toBe('0b6a3b52-5b8e-4a53-9c43-3f1f6e0d6a12');
    expect(comfy.stats.promptsSubmitted).toBe(1);
    expect(comfy.stats.requests['POST /prompt']).toBe(1);
    expect((await untilHistory(promptId)).status?.status_str).toBe('success');
  });

  it('does not queue a prompt twice when a proxy answers 502 after ComfyUI accepted it', async () => {
    comfy.loseNextPromptAnswers(1, 'bad-gateway');
    const { promptId } = await client.submitPrompt({ workflow });
    expect(comfy.stats.promptsSubmitted).toBe(1);
    await untilHistory(promptId);
  });

  it('finds a lost answer\'s prompt in history when it has already finished', async () => {
    comfy.loseNextPromptAnswers(1, 'reset');
    const finished = new Promise((resolve) => comfy.events.once('history-written', resolve));
    const submitted = client.submitPrompt({ workflow });
    await finished;
    const { promptId } = await submitted;
    expect(comfy.history(promptId)).toBeDefined();
    expect(comfy.stats.promptsSubmitted).toBe(1);
  });

  it('submits again when ComfyUI did not queue the prompt, after checking', async () => {
    comfy.failNext(1, 503, 'POST /prompt');
    const { promptId } = await client.submitPrompt({ workflow });
    expect(comfy.stats.requests['POST /prompt']).toBe(2);
    expect(comfy.stats.requests['GET /queue']).toBe(1);
    expect(comfy.stats.promptsSubmitted).toBe(1);
    await untilHistory(promptId);
  });

  it('gives up on POST /prompt after the configured attempts, naming the problem', async () => {
    comfy.failNext(3, 503, 'POST /prompt');
    const error = await client.submitPrompt({ workflow }).catch((e: unknown) => e);
    expect((error as FailureError).failure.message).toMatch(/HTTP 503 on POST \/prompt, after 3 attempt\(s\)/);
    expect(comfy.stats.promptsSubmitted).toBe(0);
  });

  it('retries a refused connection without looking in the queue (nothing was sent)', async () => {
    await comfy.down();
    const error = await client.submitPrompt({ workflow }).catch((e: unknown) => e);
    expect((error as FailureError).failure.message).toMatch(/could not be reached \(ECONNREFUSED.*after 3 attempt/);
    await comfy.up();
    expect(comfy.stats.requests['GET /queue']).toBeUndefined();
  });

  it('names COMFYUI_HTTP_TIMEOUT_SEC when ComfyUI does not answer in time, and stops at the caller\'s abort', async () => {
    const stalled = createServer(() => undefined); // takes requests, never answers
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const toStalled = new ComfyHttp({ baseUrl: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`, timeoutMs: 100, retries: 0 });
    try {
      const error = await new ComfyClient(toStalled).getQueue().catch((e: unknown) => e);
      expect((error as FailureError).failure.message).toContain('did not answer within 0.1 s (COMFYUI_HTTP_TIMEOUT_SEC)');
      const stop = new AbortController();
      setTimeout(() => stop.abort(new Error('stopping')), 20);
      expect(await new ComfyClient(toStalled).getQueue(stop.signal).catch((e: unknown) => e)).toEqual(new Error('stopping'));
    } finally {
      toStalled.close();
      stalled.closeAllConnections();
      stalled.close();
    }
  });

  it('gives up after the configured retries as an unavailable failure', async () => {
    comfy.failNext(5, 500);
    const error = await client.getQueue().catch((e: unknown) => e);
    expect((error as FailureError).failure).toMatchObject({ kind: 'unavailable' });
    expect((error as FailureError).failure.message).toContain('HTTP 500');
  });

  it('never retries a 4xx', async () => {
    const before = comfy.stats.requests['POST /prompt'] ?? 0;
    await client.submitPrompt({ workflow: { '1': { class_type: 'NoSuchNode', inputs: {} } } }).catch(() => undefined);
    expect((comfy.stats.requests['POST /prompt'] ?? 0) - before).toBe(1);
  });

  it('reports an unreachable ComfyUI as unavailable, naming the address', async () => {
    await comfy.down();
    const error = await client.getQueue().catch((e: unknown) => e);
    expect((error as FailureError).failure.kind).toBe('unavailable');
    expect((error as FailureError).failure.message).toContain(comfy.url);
    await comfy.up();
  });
});
