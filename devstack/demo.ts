/**
 * `npm run demo`: the whole worker on simulators. Starts the LittleHorse and ComfyUI doubles on
 * loopback, runs the built dist/runner.js against them, sends a sample workflow through
 * LittleHorse, prints what the worker reported, and stops everything.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startFakeComfy } from './comfyui/index.js';
import { startFakeLittleHorse } from './littlehorse/index.js';
import txt2img from './workflows/txt2img.json' with { type: 'json' };

const TASK_NAME = 'execute-comfyui-workflow';
const bundle = path.resolve(import.meta.dirname, '../dist/runner.js');

const lh = await startFakeLittleHorse();
const comfy = await startFakeComfy({ runTimeMs: 1_500, steps: 20 });
console.log(`simulated LittleHorse on ${lh.host}:${lh.port}, simulated ComfyUI on ${comfy.url}`);

const worker = spawn(process.execPath, [bundle], {
  env: {
    PATH: process.env.PATH,
    COMFYUI_BASE_URL: comfy.url,
    COMFYUI_OUTPUT_DIR: comfy.outputDir,
    LHW_TASK_NAME: TASK_NAME,
    LHC_API_HOST: lh.host,
    LHC_API_PORT: String(lh.port),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
worker.stdout.on('data', (chunk: Buffer) => process.stdout.write(`  worker | ${chunk.toString().trimEnd().replaceAll('\n', '\n  worker | ')}\n`));

try {
  await waitFor(() => lh.taskDefs().some((t) => t.id?.name === TASK_NAME) && lh.stats.pollRequests > 0, 15_000);
  console.log(`\nscheduling TaskRun with the sample txt2img workflow (devstack/workflows/txt2img.json)`);
  const run = lh.scheduleTask({ taskDefName: TASK_NAME, variables: { workflow: { jsonObj: JSON.stringify(txt2img) } } });
  const done = await lh.waitForTaskRun(run.id, 30_000);
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
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  await lh.stop();
  await comfy.stop();
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('the worker did not start polling in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
