import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LHStatus, VariableType, type VariableValue, type WfRun } from 'littlehorse-client/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { typedOneTaskWfSpec, type WfVariable } from '../devstack/littlehorse/one-task-wf-spec.js';
import { sleep } from '../lib/backoff.js';
import { parseConfig } from '../lib/config.js';
import { LittleHorseConnections } from '../lib/littlehorse/connection.js';
import type { Stack } from './support/stack.js';
import { stackFixture } from './support/stack-fixture.js';
import { message, spawnWorker, type WorkerProcess } from './support/worker-process.js';

const TEMPLATES = path.resolve(import.meta.dirname, '../templates');
const TASK = 'comfyui-text-to-image';
const VARIABLES: WfVariable[] = [
  { name: 'prompt', type: VariableType.STR, required: true },
  { name: 'negative_prompt', type: VariableType.STR },
  { name: 'seed', type: VariableType.INT },
  { name: 'width', type: VariableType.INT },
  { name: 'height', type: VariableType.INT },
  { name: 'steps', type: VariableType.INT },
  { name: 'sampler', type: VariableType.STR },
];

const fixture = stackFixture();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const done of cleanup.splice(0)) await done();
});

function folder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'templates-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Only text-to-image: with fewer TaskDefs the one poll request comes round to each sooner. */
function textToImageOnly(): string {
  const dir = folder();
  copyFileSync(path.join(TEMPLATES, 'text-to-image.json'), path.join(dir, 'text-to-image.json'));
  return dir;
}

/** The worker's own LittleHorse client, as a WfSpec author would use one. */
function littleHorse(stack: Stack) {
  const parsed = parseConfig(stack.env());
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const connections = new LittleHorseConnections(parsed.config.littlehorse);
  cleanup.push(() => connections.close());
  return connections.bootstrap();
}

/** Registers the WfSpec, runs it with these variables and waits for the WfRun to end. */
async function runWf(stack: Stack, variables: Record<string, VariableValue>, retries = 0, task = TASK, defs = VARIABLES): Promise<WfRun> {
  const client = littleHorse(stack);
  await client.putWfSpec(typedOneTaskWfSpec('poster', task, defs, { timeoutSeconds: 30, retries }));
  let wfRun = await client.runWf({ wfSpecName: 'poster', variables });
  for (const until = Date.now() + 30_000; wfRun.status === LHStatus.RUNNING && Date.now() < until; await sleep(50)) {
    wfRun = await client.getWfRun(wfRun.id!);
  }
  return wfRun;
}

const resultOf = (stack: Stack) => {
  const attempt = stack.lh.taskRuns().find((run) => run.taskDefName === TASK)?.attempts.at(-1);
  return JSON.parse(attempt?.output?.jsonObj ?? attempt?.exception?.content?.jsonObj ?? 'null');
};

describe('a template served as a typed TaskDef', () => {
  it('registers the TaskDef and runs it from a WfSpec with typed variables, returning the named output and the seed', async () => {
    const stack = await fixture.start();
    await fixture.ready({ COMFYUI_TEMPLATES_DIR: TEMPLATES });
    const taskDef = stack.lh.taskDefs().find((t) => t.id?.name === TASK);
    expect(taskDef?.inputVars.map((v) => `${v.name}: ${v.typeDef?.type}`)).toEqual(VARIABLES.map((v) => `${v.name}: ${v.type}`));
    expect(taskDef?.returnType?.returnType?.type).toBe(VariableType.JSON_OBJ);

    const wfRun = await runWf(stack, { prompt: { str: 'a lighthouse at dawn' }, width: { int: 768 } });
    expect(wfRun.status).toBe(LHStatus.COMPLETED);
    const result = resultOf(stack);
    expect(Object.keys(result)).toEqual(['prompt_id', 'outputs', 'seeds']);
    expect(result.outputs.images).toHaveLength(1);
    expect(existsSync(result.outputs.images[0].path)).toBe(true);
    expect(Number.isSafeInteger(result.seeds.seed)).toBe(true);

    // The graph ComfyUI ran holds the variables, the template's defaults and the derived seed.
    const graph = stack.comfy.history(result.prompt_id)!.prompt[2];
    expect(graph['6']!.inputs.text).toBe('a lighthouse at dawn');
    expect(graph['7']!.inputs.text).toBe('blurry, low quality');
    expect(graph['5']!.inputs).toMatchObject({ width: 768, height: 512 });
    expect(graph['3']!.inputs).toMatchObject({ seed: result.seeds.seed, steps: 20, sampler_name: 'euler' });
  });

  it('derives the same seed for a retried attempt', async () => {
    const stack = await fixture.start();
    await fixture.ready({ COMFYUI_TEMPLATES_DIR: textToImageOnly() });
    stack.comfy.script({ kind: 'interrupted' }); // the first attempt fails (TASK_FAILED) and LittleHorse retries it
    const submitted: string[] = [];
    stack.comfy.events.on('queued', (promptId: string) => submitted.push(promptId));
    const wfRun = await runWf(stack, { prompt: { str: 'a cat' } }, 1);
    expect(wfRun.status).toBe(LHStatus.COMPLETED);
    expect(submitted).toHaveLength(2);
    const seeds = submitted.map((id) => stack.comfy.history(id)!.prompt[2]['3']!.inputs.seed);
    expect(seeds[1]).toBe(seeds[0]);
    expect(resultOf(stack).seeds.seed).toBe(seeds[0]);
  });

  it('ends a task with a bad input as comfyui-invalid-input naming the input and the rule; nothing reaches ComfyUI', async () => {
    const stack = await fixture.start();
    await fixture.ready({ COMFYUI_TEMPLATES_DIR: textToImageOnly() });
    const wfRun = await runWf(stack, { prompt: { str: 'a cat' }, width: { int: 4096 }, sampler: { str: 'heun' } });
    expect(wfRun.status).toBe(LHStatus.EXCEPTION);
    const attempt = stack.lh.taskRuns().find((run) => run.taskDefName === TASK)!.attempts.at(-1)!;
    expect(attempt.exception?.name).toBe('comfyui-invalid-input');
    expect(attempt.exception?.message).toContain('input "width" 4096 is above the maximum 2048');
    expect(resultOf(stack).problems.map((p: { input: string; rule: string }) => `${p.input}:${p.rule}`)).toEqual(['width:max', 'sampler:enum']);
    expect(stack.comfy.stats.promptsSubmitted).toBe(0);
  });

  it('refuses at start, by name and with exit code 7, a template the ComfyUI cannot run', async () => {
    const stack = await fixture.start();
    const dir = folder();
    const upscale = JSON.parse(readFileSync(path.join(TEMPLATES, 'upscale.json'), 'utf8'));
    upscale.workflow['2'].class_type = 'UpscaleModelLoaderPro';
    writeFileSync(path.join(dir, 'upscale.json'), JSON.stringify(upscale));
    const worker: WorkerProcess = spawnWorker(stack.env({ COMFYUI_TEMPLATES_DIR: dir }));
    cleanup.push(() => worker.stop());
    expect(await worker.exited).toBe(7);
    expect(worker.logs.some(message(`template upscale (${path.join(dir, 'upscale.json')}) cannot run on this ComfyUI: node 2: ComfyUI has no node class UpscaleModelLoaderPro`))).toBe(true);
    expect(stack.lh.stats.pollRequests).toBe(0);
  });

  it('exits 2 naming the file and the field of a broken template', async () => {
    const stack = await fixture.start();
    const dir = folder();
    writeFileSync(path.join(dir, 'broken.json'), JSON.stringify({ inputs: { prompt: { type: 'STR', targets: ['6.inputs.text'] } }, outputs: { images: { node: '9' } }, workflow: { '9': { class_type: 'SaveImage', inputs: {} } } }));
    const worker = spawnWorker(stack.env({ COMFYUI_TEMPLATES_DIR: dir }));
    cleanup.push(() => worker.stop());
    expect(await worker.exited).toBe(2);
    expect(worker.stderr()).toContain(`${path.join(dir, 'broken.json')}: inputs.prompt.targets[0] "6.inputs.text": unknown node id "6"`);
  });

  it('exits 5 when a template\'s TaskDef exists with another shape, and never overwrites it', async () => {
    const stack = await fixture.start();
    stack.lh.putTaskDef({ name: TASK, inputVars: [{ name: 'prompt', typeDef: { type: VariableType.STR, masked: false } }], returnType: { returnType: { type: VariableType.JSON_OBJ, masked: false } } });
    const worker = spawnWorker(stack.env({ COMFYUI_TEMPLATES_DIR: textToImageOnly() }));
    cleanup.push(() => worker.stop());
    expect(await worker.exited).toBe(5);
    expect(worker.logs.some(message('set "version" in'))).toBe(true);
    expect(stack.lh.taskDefs().find((t) => t.id?.name === TASK)?.inputVars).toHaveLength(1);
  });
});
