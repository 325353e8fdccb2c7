/**
 * `npm run demo`: the whole worker on simulators. Starts the LittleHorse and ComfyUI doubles on
 * loopback, runs the built dist/runner.js against them (readable log lines, prefixed `worker |`),
 * sends a sample workflow through LittleHorse, prints what the worker reported, and stops everything
 * but the output folder, which it keeps and names.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { startFakeComfy } from './comfyui/index.js';
import { startFakeLittleHorse } from './littlehorse/index.js';
import txt2img from './workflows/txt2img.json' with { type: 'json' };

const TASK_NAME = 'execute-comfyui-workflow';
const bundle = path.resolve(import.meta.dirname, '../dist/runner.js');
const outputDir = mkdtempSync(path.join(tmpdir(), 'comfyui-worker-demo-'));

const lh = await startFakeLittleHorse();
const comfy = await startFakeComfy({ runTimeMs: 1_500, steps: 20, outputDir });
console.log(`simulated LittleHorse on ${lh.host}:${lh.port}, simulated ComfyUI on ${comfy.url}, output folder ${outputDir}\n`);

const worker = spawn(process.execPath, [bundle], {
  env: {
    PATH: process.env.PATH,
    COMFYUI_BASE_URL: comfy.url,
    COMFYUI_OUTPUT_DIR: outputDir,
    LHW_TASK_NAME: TASK_NAME,
    LHC_API_HOST: lh.host,
    LHC_API_PORT: String(lh.port),
    LOG_FORMAT: 'pretty',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let workerOutput = '';
const prefixed = (from: Readable, to: NodeJS.WriteStream) =>
  from.on('data', (chunk: Buffer) => {
    workerOutput += chunk.toString();
    to.write(`  worker | ${chunk.toString().trimEnd().replaceAll('\n', '\n  worker | ')}\n`);
  });
prefixed(worker.stdout, process.stdout);
prefixed(worker.stderr, process.stderr);

try {
  await waitFor(() => lh.taskDefs().some((t) => t.id?.name === TASK_NAME) && lh.stats.pollRequests > 0, 15_000);
  console.log(`\nscheduling a TaskRun with the sample txt2img workflow (devstack/workflows/txt2img.json)\n`);
  const run = lh.scheduleTask({ taskDefName: TASK_NAME, variables: { workflow: { jsonObj: JSON.stringify(txt2img) } } });
  const done = await lh.waitForTaskRun(run.id, 30_000);
  // LittleHorse has the report a moment before the worker has the answer: stopping the worker in
  // between would show it stopping with a task in hand. Its own line says when it is done.
  await waitFor(() => workerOutput.includes('task reported'), 5_000).catch(() => undefined);
  const attempt = done.attempts.at(-1);
  console.log(`\nTaskRun ${done.id.wfRunId?.id}/${done.id.taskGuid}: ${done.status}`);
  console.log('\nlog output:\n' + (attempt?.logOutput?.str ?? '(none)').replace(/^/gm, '  '));
  const output = attempt?.output?.jsonObj ?? attempt?.exception?.content?.jsonObj;
  console.log('\nreported result:\n' + JSON.stringify(JSON.parse(output ?? 'null'), null, 2));
  process.exitCode = done.status === 'TASK_SUCCESS' ? 0 : 1;
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  console.log('\nstopping the worker (SIGTERM)\n');
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  await lh.stop();
  await comfy.stop();
  console.log(`\nthe output files are kept in ${outputDir} (the simulated ComfyUI writes small placeholder images); remove it with: rm -r ${outputDir}`);
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('the worker did not start polling in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
