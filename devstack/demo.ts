/**
 * `npm run demo`: the whole worker on simulators. Starts the LittleHorse and ComfyUI doubles and a real
 * S3-protocol server (s3rver) on loopback, runs the built dist/runner.js against them with the shipped
 * templates and COMFYUI_OUTPUT_STORE pointing at the S3 server (readable log lines, prefixed
 * `worker |`), registers a WfSpec that calls the text-to-image template with typed variables, runs it,
 * prints what the worker reported and fetches the stored output through its presigned URL, then stops
 * everything but the output folder, which it keeps and names.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LHStatus } from 'littlehorse-client/proto';
import S3rver from 's3rver';
import { parseConfig } from '../lib/config.js';
import { LittleHorseConnections } from '../lib/littlehorse/connection.js';
import { startFakeComfy } from './comfyui/index.js';
import { startFakeLittleHorse } from './littlehorse/index.js';
import { typedOneTaskWfSpec, wfVariablesOf } from './littlehorse/one-task-wf-spec.js';

const TASK_DEF = 'comfyui-text-to-image';
const bundle = path.resolve(import.meta.dirname, '../dist/runner.js');
const templates = path.resolve(import.meta.dirname, '../templates');
const outputDir = mkdtempSync(path.join(tmpdir(), 'comfyui-worker-demo-'));
const s3Dir = mkdtempSync(path.join(tmpdir(), 'comfyui-worker-demo-s3-'));
const BUCKET = 'demo-outputs';

const lh = await startFakeLittleHorse();
const comfy = await startFakeComfy({ runTimeMs: 1_500, steps: 20, outputDir });
// A real S3-protocol server; its fixed credentials are S3RVER / S3RVER.
const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3Dir, configureBuckets: [{ name: BUCKET }] });
const s3Endpoint = `http://127.0.0.1:${(await s3.run()).port}`;
console.log(`simulated LittleHorse on ${lh.host}:${lh.port}, simulated ComfyUI on ${comfy.url}, output folder ${outputDir}`);
console.log(`S3 server (s3rver) on ${s3Endpoint}, bucket ${BUCKET}\n`);

const env = {
  COMFYUI_BASE_URL: comfy.url,
  COMFYUI_OUTPUT_DIR: outputDir,
  COMFYUI_TEMPLATES_DIR: templates,
  LHW_TASK_NAME: 'execute-comfyui-workflow',
  LHC_API_HOST: lh.host,
  LHC_API_PORT: String(lh.port),
  LOG_FORMAT: 'pretty',
  // Every output is uploaded too, and its result entry gains uri, size, sha256, content_type and a presigned URL.
  COMFYUI_OUTPUT_STORE: `s3://${BUCKET}/comfyui/`,
  COMFYUI_OUTPUT_STORE_PRESIGN_SEC: '3600',
  COMFYUI_S3_ENDPOINT: s3Endpoint,
  COMFYUI_S3_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
};
const worker = spawn(process.execPath, [bundle], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
let workerOutput = '';
const prefixed = (from: Readable, to: NodeJS.WriteStream) =>
  from.on('data', (chunk: Buffer) => {
    workerOutput += chunk.toString();
    to.write(`  worker | ${chunk.toString().trimEnd().replaceAll('\n', '\n  worker | ')}\n`);
  });
prefixed(worker.stdout, process.stdout);
prefixed(worker.stderr, process.stderr);
// The WfSpec author's own LittleHorse client.
const parsed = parseConfig(env);
if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
const connections = new LittleHorseConnections(parsed.config.littlehorse);
const client = connections.bootstrap();

try {
  await waitFor(() => lh.taskDefs().some((t) => t.id?.name === TASK_DEF) && lh.stats.pollRequests > 0, 15_000);
  const taskDef = lh.taskDefs().find((t) => t.id?.name === TASK_DEF)!;
  console.log(`\nTaskDef ${TASK_DEF}(${taskDef.inputVars.map((v) => `${v.name}: ${v.typeDef?.type}`).join(', ')}) → ${taskDef.returnType?.returnType?.type}, from templates/text-to-image.json`);
  const variables = wfVariablesOf(taskDef, ['prompt']);
  await client.putWfSpec(typedOneTaskWfSpec('poster', TASK_DEF, variables, { timeoutSeconds: 60, retries: 1 }));
  console.log(`WfSpec poster: ENTRYPOINT → ${TASK_DEF}(${variables.map((v) => v.name).join(', ')}) → EXIT`);
  console.log('running it with prompt="a lighthouse on a cliff at dawn", width=768, steps=30 (the other variables unset: the template\'s defaults, a seed derived from the TaskRun)\n');
  let wfRun = await client.runWf({ wfSpecName: 'poster', variables: { prompt: { str: 'a lighthouse on a cliff at dawn' }, width: { int: 768 }, steps: { int: 30 } } });
  for (const until = Date.now() + 30_000; wfRun.status === LHStatus.RUNNING && Date.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    wfRun = await client.getWfRun(wfRun.id!);
  }
  // LittleHorse has the report a moment before the worker has the answer: stopping the worker in
  // between would show it stopping with a task in hand. Its own line says when it is done.
  await waitFor(() => workerOutput.includes('task reported'), 5_000).catch(() => undefined);
  const taskRun = lh.taskRuns().find((run) => run.taskDefName === TASK_DEF);
  const attempt = taskRun?.attempts.at(-1);
  console.log(`\nWfRun ${wfRun.id?.id}: ${wfRun.status}; TaskRun ${taskRun?.status}`);
  console.log('\nlog output:\n' + (attempt?.logOutput?.str ?? '(none)').replace(/^/gm, '  '));
  const output = attempt?.output?.jsonObj ?? attempt?.exception?.content?.jsonObj;
  const result = JSON.parse(output ?? 'null');
  console.log('\nreported result:\n' + JSON.stringify(result, null, 2));
  for (const image of result?.outputs?.images ?? []) await showStored(image);
  process.exitCode = wfRun.status === LHStatus.COMPLETED ? 0 : 1;
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  console.log('\nstopping the worker (SIGTERM)\n');
  connections.close();
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  await lh.stop();
  await comfy.stop();
  await s3.close();
  rmSync(s3Dir, { recursive: true, force: true });
  console.log(`\nthe output files are kept in ${outputDir} (the simulated ComfyUI writes small placeholder images); remove it with: rm -r ${outputDir}`);
}

/** The output as the next step of a workflow would see it: its object URI, and its bytes read back through the presigned URL. */
async function showStored(image: { uri?: string; size?: number; content_type?: string; presigned_url?: string }): Promise<void> {
  if (!image.uri) return console.log('\nthe output was not stored in S3 (no uri in its entry)');
  console.log(`\nstored in object storage: ${image.uri} (${image.size} bytes, ${image.content_type})`);
  if (!image.presigned_url) return;
  const reply = await fetch(image.presigned_url);
  const bytes = (await reply.arrayBuffer()).byteLength;
  console.log(`GET ${image.presigned_url.replace(/\?.*$/, '?X-Amz-…')} → HTTP ${reply.status}, ${bytes} bytes, ${reply.headers.get('content-type')}`);
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('the worker did not start polling in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
