import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { FailureError } from '../functions/execute-comfyui-workflow/failure.js';
import { executeComfyuiWorkflow } from '../functions/execute-comfyui-workflow/handler.js';
import type { OutputFile } from '../functions/execute-comfyui-workflow/outputs.js';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ComfyHttp } from '../lib/comfyui/http.js';
import { inputPlacer } from '../lib/media/input-placer.js';
import { objectFetcher } from '../lib/media/object-source.js';
import { outputSource } from '../lib/storage/output-source.js';
import { type LazyS3, lazyS3, type S3Connection } from '../lib/storage/s3-client.js';
import { s3OutputStore } from '../lib/storage/s3-output-store.js';
import type { OutputStoreConfig } from '../lib/storage/store-config.js';
import { TaskStatus } from 'littlehorse-client/proto';
import { handlerHarness, type Harness } from './support/handler-deps.js';
import { stackFixture } from './support/stack-fixture.js';
import { BUCKET, S3_CREDENTIALS, type S3Server, startS3Server } from './support/s3-server.js';

const MiB = 1024 * 1024;
// A valid 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
const task = { wfRunId: 'wf-1', taskGuid: '0-1' };
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let s3: S3Server;
const clients: LazyS3[] = [];
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3.stop();
});
beforeEach(() => {
  for (const [name, value] of Object.entries(S3_CREDENTIALS)) vi.stubEnv(name, value);
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  vi.unstubAllEnvs();
});

/** The worker's S3 client, pointed at s3rver; credentials come from the environment (default chain). */
const s3Client = () => {
  const client = lazyS3({ endpoint: s3.endpoint, region: undefined });
  clients.push(client);
  return client;
};

const storeFor = (overrides: Partial<OutputStoreConfig> = {}, http = new ComfyHttp({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1_000, retries: 0 })) => {
  return s3OutputStore(
    { bucket: BUCKET, prefix: 'runs/', keyTemplate: '{wfRunId}/{taskGuid}/{file}', presignSec: undefined, ...overrides },
    s3Client(),
    outputSource(http),
  );
};

/** A real file in a temp folder, as a shared-folder output entry. */
function localOutput(name: string, bytes: Buffer, subfolder = ''): OutputFile {
  const folder = mkdtempSync(path.join(tmpdir(), 'store-src-'));
  const file = path.join(folder, name);
  writeFileSync(file, bytes);
  return { node_id: '9', kind: 'images', filename: name, subfolder, type: 'output', path: file };
}

describe('storing outputs in S3', () => {
  it('uploads a file under prefix/wfRunId/taskGuid/file and reports uri, size, sha256 and content type', async () => {
    const bytes = Buffer.from('a small png, or so it says');
    const stored = await storeFor().forTask(task)(localOutput('ComfyUI_00001_.png', bytes, 'portraits'), new AbortController().signal);
    expect(stored).toEqual({
      uri: `s3://${BUCKET}/runs/wf-1/0-1/portraits/ComfyUI_00001_.png`,
      size: bytes.length,
      sha256: sha256(bytes),
      content_type: 'image/png',
    });
    expect(await s3.get('runs/wf-1/0-1/portraits/ComfyUI_00001_.png')).toEqual(bytes);
    expect((await s3.head('runs/wf-1/0-1/portraits/ComfyUI_00001_.png')).ContentType).toBe('image/png');
  });

  it('uploads a file larger than one part in several parts', async () => {
    const bytes = Buffer.alloc(11 * MiB + 123);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
    const before = s3.requests.length;
    const stored = await storeFor().forTask(task)(localOutput('clip.mp4', bytes), new AbortController().signal);
    expect(stored).toMatchObject({ size: bytes.length, sha256: sha256(bytes), content_type: 'video/mp4' });
    const requests = s3.requests.slice(before);
    expect(requests.filter((r) => r.startsWith('POST /outputs/runs/wf-1/0-1/clip.mp4?uploads'))).toHaveLength(1);
    expect(requests.filter((r) => /^PUT \/outputs\/runs\/wf-1\/0-1\/clip\.mp4\?.*partNumber=/.test(r))).toHaveLength(3); // 5 + 5 + 1 MiB
    expect(sha256(await s3.get('runs/wf-1/0-1/clip.mp4'))).toBe(sha256(bytes));
  });

  it('adds a presigned GET URL that serves the object when asked to', async () => {
    const bytes = Buffer.from('presigned');
    const stored = await storeFor({ presignSec: 300 }).forTask(task)(localOutput('p.png', bytes), new AbortController().signal);
    expect(stored.presigned_url).toContain('X-Amz-Signature=');
    expect(stored.presigned_url).toContain('X-Amz-Expires=300');
    const reply = await fetch(stored.presigned_url!);
    expect(reply.status).toBe(200);
    expect(Buffer.from(await reply.arrayBuffer())).toEqual(bytes);
  });

  it('writes the same key again on a retried attempt, leaving one object', async () => {
    const store = storeFor({ prefix: 'retry/' }).forTask(task);
    const first = await store(localOutput('r.png', Buffer.from('attempt 0')), new AbortController().signal);
    const second = await store(localOutput('r.png', Buffer.from('attempt 1')), new AbortController().signal);
    expect(second.uri).toBe(first.uri);
    expect(await s3.keys('retry/')).toEqual(['retry/wf-1/0-1/r.png']);
    expect((await s3.get('retry/wf-1/0-1/r.png')).toString()).toBe('attempt 1');
  });

  it('follows a key template', async () => {
    const stored = await storeFor({ prefix: '', keyTemplate: 'by-node/{nodeId}/{taskGuid}-{filename}' }).forTask(task)(
      localOutput('t.png', Buffer.from('t'), 'sub'),
      new AbortController().signal,
    );
    expect(stored.uri).toBe(`s3://${BUCKET}/by-node/9/0-1-t.png`);
  });

  it('fails retryably, naming the object, when the store refuses the upload', async () => {
    const store = storeFor({ bucket: 'no-such-bucket' }).forTask(task);
    const error = await store(localOutput('f.png', Buffer.from('f')), new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailureError);
    const failure = (error as FailureError).failure;
    expect(failure.kind).toBe('unavailable');
    expect(failure.message).toContain('s3://no-such-bucket/runs/wf-1/0-1/f.png');
    expect(failure.message).toContain('NoSuchBucket');
  });

  it('refuses to report a file whose size changed while it was read', async () => {
    const store = s3OutputStore(
      { bucket: BUCKET, prefix: 'changed/', keyTemplate: '{file}', presignSec: undefined },
      s3Client(),
      async () => ({ body: Readable.from([Buffer.from('short')]), size: 1_000, fromFolder: true }),
    );
    const error = await store.forTask(task)(localOutput('c.png', Buffer.from('x')), new AbortController().signal).catch((e: unknown) => e);
    expect((error as FailureError).failure).toMatchObject({ kind: 'unavailable' });
    expect((error as FailureError).failure.message).toContain('5 bytes read, 1000 expected');
  });
});

describe('a workflow with output storage', () => {
  let comfy: FakeComfy;
  let harness: Harness | undefined;
  beforeEach(async () => {
    comfy = await startFakeComfy({ runTimeMs: 50 });
  });
  afterEach(async () => {
    harness?.close();
    harness = undefined;
    await comfy.stop();
  });

  it('reports each output with where it was stored', async () => {
    harness = await handlerHarness(comfy);
    harness.deps.store = storeFor({ prefix: 'handler/' }).forTask(task);
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const [file] = outcome.result.outputs;
    const bytes = readFileSync(file!.path!);
    expect(file).toMatchObject({ uri: `s3://${BUCKET}/handler/wf-1/0-1/${file!.filename}`, size: bytes.length, sha256: sha256(bytes), content_type: 'image/png' });
    expect(await s3.get(`handler/wf-1/0-1/${file!.filename}`)).toEqual(bytes);
  });

  it('stores a preview it has no path for by reading it through /view', async () => {
    const workflow = structuredClone(txt2img) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    workflow['9'] = { class_type: 'PreviewImage', inputs: { images: ['8', 0] } };
    harness = await handlerHarness(comfy, { settings: { includeTempOutputs: true } });
    harness.deps.store = storeFor({ prefix: 'preview/' }, new ComfyHttp({ baseUrl: comfy.url, timeoutMs: 2_000, retries: 0 })).forTask(task);
    const outcome = await executeComfyuiWorkflow(workflow, harness.deps);
    expect(outcome.ok ? 'ok' : outcome.failure.message).toBe('ok');
    if (!outcome.ok) return;
    const [file] = outcome.result.outputs;
    expect(file).toMatchObject({ type: 'temp', path: null, uri: `s3://${BUCKET}/preview/wf-1/0-1/temp/${file!.filename}` });
    expect((await s3.get(`preview/wf-1/0-1/temp/${file!.filename}`)).length).toBe(file!.size);
  });

  it('reads an output through /view when the output folder is not shared, and reports no local path for it', async () => {
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'not-shared-'));
    harness = await handlerHarness(comfy, { settings: { outputDir: elsewhere } });
    harness.deps.store = storeFor({ prefix: 'unshared/' }, new ComfyHttp({ baseUrl: comfy.url, timeoutMs: 2_000, retries: 0 })).forTask(task);
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok ? 'ok' : outcome.failure.message).toBe('ok');
    if (!outcome.ok) return;
    const [file] = outcome.result.outputs;
    const original = readFileSync(path.join(comfy.outputDir, file!.subfolder, file!.filename));
    expect(file).toMatchObject({ size: original.length, sha256: sha256(original), path: null });
    expect(await s3.get(`unshared/wf-1/0-1/${file!.filename}`)).toEqual(original);
  });

  it('fails the task (TASK_FAILED) when an upload fails', async () => {
    harness = await handlerHarness(comfy);
    harness.deps.store = storeFor({ bucket: 'no-such-bucket' }).forTask(task);
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure.kind).toBe('unavailable');
    expect(outcome.failure.message).toContain('s3://no-such-bucket/');
  });
});

describe('the bundled worker with COMFYUI_OUTPUT_STORE', () => {
  const stacks = stackFixture();

  it('stores each output and reports its s3:// URI to LittleHorse', async () => {
    const stack = await stacks.start();
    await stacks.ready({ COMFYUI_OUTPUT_STORE: `s3://${BUCKET}/e2e/`, COMFYUI_S3_ENDPOINT: s3.endpoint, COMFYUI_OUTPUT_STORE_PRESIGN_SEC: '60', ...S3_CREDENTIALS });
    const run = stack.schedule();
    const done = await stack.lh.waitForTaskRun(run.id);
    expect(done.status).toBe(TaskStatus.TASK_SUCCESS);
    const result = JSON.parse(done.attempts[0]!.output!.jsonObj!) as { outputs: Array<{ uri: string; size: number; presigned_url: string }> };
    const [output] = result.outputs;
    const key = output!.uri.slice(`s3://${BUCKET}/`.length);
    expect(key).toMatch(new RegExp(`^e2e/${run.id.wfRunId!.id}/${run.id.taskGuid}/ComfyUI_\\d+_\\.png$`));
    expect((await s3.get(key)).length).toBe(output!.size);
    expect((await fetch(output!.presigned_url)).status).toBe(200);
  });
});

describe('s3:// and gs:// media inputs', () => {
  let comfy: FakeComfy;
  let harness: Harness | undefined;
  beforeEach(async () => {
    comfy = await startFakeComfy({ runTimeMs: 20 });
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'in/cat.png', Body: PNG, ContentType: 'image/png' }));
  });
  afterEach(async () => {
    harness?.close();
    harness = undefined;
    await comfy.stop();
  });

  const run = async (image: string, connection: S3Connection = { endpoint: s3.endpoint, region: undefined }) => {
    harness = await handlerHarness(comfy);
    const client = lazyS3(connection);
    clients.push(client);
    harness.deps.placeInput = inputPlacer({ maxBytes: 1_000_000, timeoutMs: 5_000, allowPrivate: false }, comfy.url, 2_000, objectFetcher(client, connection)).forTask(task);
    return executeComfyuiWorkflow(
      { '1': { class_type: 'LoadImage', inputs: { image } }, '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'i2i' } } },
      harness.deps,
    );
  };

  it.each(['s3', 'gs'])('reads an %s:// object through the S3 endpoint and uploads it to ComfyUI', async (scheme) => {
    const outcome = await run(`${scheme}://${BUCKET}/in/cat.png`);
    expect(outcome.ok ? 'ok' : outcome.failure.message).toBe('ok');
    expect(readFileSync(path.join(comfy.inputDir, 'lh_wf-1_0-1', 'cat.png'))).toEqual(PNG);
  });

  it('ends as comfyui-invalid-input when the object does not exist', async () => {
    const outcome = await run(`s3://${BUCKET}/in/nothing.png`);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-input' });
    expect(outcome.failure.message).toContain('NoSuchKey');
  });

  it('refuses gs:// without an endpoint, saying which variable to set', async () => {
    const outcome = await run(`gs://${BUCKET}/in/cat.png`, { endpoint: undefined, region: undefined });
    expect(outcome.ok === false && outcome.failure.message).toContain('COMFYUI_S3_ENDPOINT');
  });
});
