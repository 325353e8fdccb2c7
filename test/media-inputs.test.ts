import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import { executeComfyuiWorkflow, type Outcome } from '../functions/execute-comfyui-workflow/handler.js';
import { inputPlacer } from '../lib/media/input-placer.js';
import type { MediaInputConfig } from '../lib/media/media-config.js';
import { isPrivateAddress } from '../lib/media/private-address.js';
import { TaskStatus } from 'littlehorse-client/proto';
import { handlerHarness, type Harness } from './support/handler-deps.js';
import { stackFixture } from './support/stack-fixture.js';

// A valid 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
const task = { wfRunId: 'wf-1', taskGuid: '0-1' };
const SUBFOLDER = 'lh_wf-1_0-1';

/** Image to image at its simplest: the loaded picture saved again. */
const imageToImage = (image: string) => ({
  '1': { class_type: 'LoadImage', inputs: { image } },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'i2i' } },
});

let comfy: FakeComfy;
let harness: Harness | undefined;
let files: http.Server | undefined;
const served: string[] = [];

/** A file server on loopback: /cat.png, /missing (404), /broken (500), /page (text/html), /posing.png (HTML as image/png), /big (3 KB). */
async function startFileServer(): Promise<string> {
  files = http.createServer((req, res) => {
    served.push(req.url ?? '');
    const route = new URL(req.url ?? '/', 'http://x').pathname;
    if (route === '/cat.png') return res.writeHead(200, { 'Content-Type': 'image/png' }).end(PNG);
    if (route === '/moved') return res.writeHead(302, { Location: '/cat.png' }).end();
    if (route === '/page') return res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html></html>');
    if (route === '/posing.png') return res.writeHead(200, { 'Content-Type': 'image/png' }).end('<html></html>');
    if (route === '/big') return res.writeHead(200, { 'Content-Type': 'image/png' }).end(Buffer.alloc(3_000));
    if (route === '/broken') return res.writeHead(500).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
}

beforeEach(async () => {
  comfy = await startFakeComfy({ runTimeMs: 20 });
  served.length = 0;
});
afterEach(async () => {
  harness?.close();
  harness = undefined;
  await comfy.stop();
  await new Promise((resolve) => (files ? files.close(resolve) : resolve(undefined)));
  files = undefined;
});

const settings: MediaInputConfig = { maxBytes: 1_000_000, timeoutMs: 2_000, allowPrivate: true };
async function run(image: string, config: Partial<MediaInputConfig> = {}): Promise<Outcome> {
  harness = await handlerHarness(comfy);
  harness.deps.placeInput = inputPlacer({ ...settings, ...config }, comfy.url, 2_000).forTask(task);
  return executeComfyuiWorkflow(imageToImage(image), harness.deps);
}
const failureOf = (outcome: Outcome) => {
  if (outcome.ok) throw new Error('expected a failure');
  return outcome.failure;
};
const submittedImage = (outcome: Outcome) => {
  if (!outcome.ok) throw new Error(outcome.failure.message);
  const entry = comfy.history(outcome.result.prompt_id) as unknown as { prompt: [number, string, Record<string, { inputs: { image: string } }>] };
  return entry.prompt[2]['1']!.inputs.image;
};

describe('a loader input given as a URL or a data: URI', () => {
  it('fetches an https-style URL, uploads it to a subfolder of the TaskRun, and runs with the stored name', async () => {
    const base = await startFileServer();
    const outcome = await run(`${base}/cat.png?X-Amz-Signature=secret`);
    expect(submittedImage(outcome)).toBe(`${SUBFOLDER}/cat.png`);
    expect(readFileSync(path.join(comfy.inputDir, SUBFOLDER, 'cat.png'))).toEqual(PNG);
  });

  it('follows a redirect', async () => {
    const base = await startFileServer();
    expect(submittedImage(await run(`${base}/moved`))).toBe(`${SUBFOLDER}/cat.png`);
  });

  it('decodes a data: URI and names the file after its type', async () => {
    const outcome = await run(`data:image/png;base64,${PNG.toString('base64')}`);
    expect(submittedImage(outcome)).toBe(`${SUBFOLDER}/image.png`);
    expect(readFileSync(path.join(comfy.inputDir, SUBFOLDER, 'image.png'))).toEqual(PNG);
  });

  it('leaves a plain file name alone', async () => {
    harness = await handlerHarness(comfy);
    let asked = 0;
    harness.deps.placeInput = async () => `${++asked}`;
    await executeComfyuiWorkflow(imageToImage('example.png'), harness.deps);
    expect(asked).toBe(0);
  });
});

describe('a media input that cannot be used', () => {
  it.each([
    ['missing (404)', '/missing', 'HTTP 404'],
    ['of the wrong type', '/page', 'text/html'],
    ['an image by its name and Content-Type only', '/posing.png', 'is image/png, not a PNG, JPEG, WEBP or GIF image (it begins 3c 68 74 6d'],
    ['larger than the limit', '/big', 'COMFYUI_INPUT_MAX_BYTES'],
  ])('ends as comfyui-invalid-input naming the input when it is %s', async (_label, route, expected) => {
    const base = await startFileServer();
    const failure = failureOf(await run(`${base}${route}?sig=secret`, { maxBytes: 2_000 }));
    expect(failure).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-input' });
    expect(failure.message).toContain(expected);
    expect(failure.message).toContain(`${base}${route}`);
    expect(failure.message).toContain('Node 1 input image');
    expect(failure.details).toMatchObject({ node_id: '1', input: 'image' });
    expect(JSON.stringify(failure)).not.toContain('secret');
    expect(comfy.stats.requests['POST /prompt'] ?? 0).toBe(0);
  });

  it('ends as comfyui-invalid-input when a data: URI is broken', async () => {
    const failure = failureOf(await run('data:image/png,%E0%A4%A'));
    expect(failure).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-input' });
  });

  it('fails retryably (TASK_FAILED) when the source answers 5xx', async () => {
    const base = await startFileServer();
    const failure = failureOf(await run(`${base}/broken`));
    expect(failure.kind).toBe('unavailable');
    expect(failure.message).toContain('HTTP 500');
  });

  it('fails retryably when the source is unreachable', async () => {
    const base = await startFileServer();
    await new Promise((resolve) => files!.close(resolve));
    files = undefined;
    expect(failureOf(await run(`${base}/cat.png`)).kind).toBe('unavailable');
  });

  it('refuses a private address unless allowed, without asking it', async () => {
    const base = await startFileServer();
    const failure = failureOf(await run(`${base}/cat.png`, { allowPrivate: false }));
    expect(failure).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-input' });
    expect(failure.message).toContain('COMFYUI_INPUT_ALLOW_PRIVATE');
    expect(served).toEqual([]);
  });

  it('refuses a name that resolves to a private address', async () => {
    await startFileServer();
    const port = (files!.address() as AddressInfo).port;
    const failure = failureOf(await run(`http://localhost:${port}/cat.png`, { allowPrivate: false }));
    expect(failure.message).toContain('private address');
    expect(served).toEqual([]);
  });
});

describe('private addresses', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '0.0.0.0'])(
    'counts %s as private',
    (ip) => expect(isPrivateAddress(ip)).toBe(true),
  );
  it.each(['8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:1.1.1.1'])('counts %s as public', (ip) => expect(isPrivateAddress(ip)).toBe(false));
});

describe('the bundled worker with a media input', () => {
  const stacks = stackFixture();

  const start = async () => {
    const base = await startFileServer();
    const stack = await stacks.start();
    await stacks.ready({ COMFYUI_INPUT_ALLOW_PRIVATE: 'true' });
    return { base, stack };
  };

  it('runs an image-to-image graph whose input is a URL to TASK_SUCCESS', async () => {
    const { base, stack } = await start();
    const done = await stack.lh.waitForTaskRun(stack.schedule(imageToImage(`${base}/cat.png`)).id);
    expect(done.status).toBe(TaskStatus.TASK_SUCCESS);
  });

  it('reports a missing input as the business exception comfyui-invalid-input', async () => {
    const { base, stack } = await start();
    const done = await stack.lh.waitForTaskRun(stack.schedule(imageToImage(`${base}/missing`)).id);
    expect(done.status).toBe(TaskStatus.TASK_EXCEPTION);
    expect(done.attempts[0]?.exception?.name).toBe('comfyui-invalid-input');
  });
});
