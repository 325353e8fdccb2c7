import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const TEMPLATES = path.resolve(import.meta.dirname, '../templates');
const TASK = 'comfyui-image-to-image';
// A valid 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

/** The shipped image-to-image template's TaskDef inputs, `image` as the template declares it. */
const variables = (image: VariableType): WfVariable[] => [
  { name: 'image', type: image, required: true },
  { name: 'prompt', type: VariableType.STR, required: true },
  { name: 'negative_prompt', type: VariableType.STR },
  { name: 'denoise', type: VariableType.DOUBLE },
  { name: 'seed', type: VariableType.INT },
  { name: 'steps', type: VariableType.INT },
  { name: 'checkpoint', type: VariableType.STR },
];

const fixture = stackFixture();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const done of cleanup.splice(0)) await done();
});

/** A templates folder holding only image-to-image, as shipped or with its image input edited. */
function imageToImage(edit: (template: { inputs: Record<string, Record<string, unknown>> }) => void = () => {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'templates-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const template = JSON.parse(readFileSync(path.join(TEMPLATES, 'image-to-image.json'), 'utf8'));
  edit(template);
  writeFileSync(path.join(dir, 'image-to-image.json'), JSON.stringify(template));
  return dir;
}

/** Registers a WfSpec calling image-to-image with typed variables, runs it and waits for the WfRun to end. */
async function runWf(stack: Stack, values: Record<string, VariableValue>, image = VariableType.BYTES): Promise<WfRun> {
  const parsed = parseConfig(stack.env());
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const connections = new LittleHorseConnections(parsed.config.littlehorse);
  cleanup.push(() => connections.close());
  const client = connections.bootstrap();
  await client.putWfSpec(typedOneTaskWfSpec('restyle', TASK, variables(image), { timeoutSeconds: 30, retries: 0 }));
  let wfRun = await client.runWf({ wfSpecName: 'restyle', variables: values });
  for (const until = Date.now() + 30_000; wfRun.status === LHStatus.RUNNING && Date.now() < until; await sleep(50)) {
    wfRun = await client.getWfRun(wfRun.id!);
  }
  return wfRun;
}

const taskRunOf = (stack: Stack) => stack.lh.taskRuns().find((run) => run.taskDefName === TASK)!;
const subfolderOf = (stack: Stack) => `lh_${taskRunOf(stack).id.wfRunId!.id}_${taskRunOf(stack).id.taskGuid}`;

describe('a template media input passed as LittleHorse BYTES', () => {
  it('registers the image as a BYTES variable, uploads it to the TaskRun\'s subfolder in ComfyUI and runs the graph on it', async () => {
    const stack = await fixture.start();
    await fixture.ready({ COMFYUI_TEMPLATES_DIR: TEMPLATES });
    const taskDef = stack.lh.taskDefs().find((t) => t.id?.name === TASK);
    expect(taskDef?.inputVars[0]).toMatchObject({ name: 'image', typeDef: { type: VariableType.BYTES } });

    const wfRun = await runWf(stack, { image: { bytes: PNG }, prompt: { str: 'as a watercolour' }, denoise: { double: 0.4 } });
    expect(wfRun.status).toBe(LHStatus.COMPLETED);
    const result = JSON.parse(taskRunOf(stack).attempts.at(-1)!.output!.jsonObj!);
    expect(readFileSync(path.join(stack.comfy.inputDir, subfolderOf(stack), 'image.png'))).toEqual(PNG);
    const graph = stack.comfy.history(result.prompt_id)!.prompt[2];
    expect(graph['10']!.inputs.image).toBe(`${subfolderOf(stack)}/image.png`);
    expect(graph['3']!.inputs.denoise).toBe(0.4);
    expect(result.outputs.images).toHaveLength(1);
  });

  it('ends BYTES that are not an image as comfyui-invalid-input naming the input; nothing reaches ComfyUI', async () => {
    const stack = await fixture.start();
    await fixture.ready({ COMFYUI_TEMPLATES_DIR: imageToImage() });
    const wfRun = await runWf(stack, { image: { bytes: Buffer.from('%PDF-1.7 not a picture') }, prompt: { str: 'as a watercolour' } });
    expect(wfRun.status).toBe(LHStatus.EXCEPTION);
    const attempt = taskRunOf(stack).attempts.at(-1)!;
    expect(attempt.exception?.name).toBe('comfyui-invalid-input');
    expect(attempt.exception?.message).toContain('input "image" is of a type its bytes do not show, not a PNG, JPEG, WEBP or GIF image (it begins 25 50 44 46');
    expect(stack.comfy.stats.requests['POST /upload/image'] ?? 0).toBe(0);
    expect(stack.comfy.stats.promptsSubmitted).toBe(0);
  });

  it('ends an image over COMFYUI_INPUT_MAX_BYTES as comfyui-invalid-input naming the input and the limit', async () => {
    const stack = await fixture.start();
    await fixture.ready({ COMFYUI_TEMPLATES_DIR: imageToImage(), COMFYUI_INPUT_MAX_BYTES: '50' });
    const wfRun = await runWf(stack, { image: { bytes: PNG }, prompt: { str: 'as a watercolour' } });
    expect(wfRun.status).toBe(LHStatus.EXCEPTION);
    const attempt = taskRunOf(stack).attempts.at(-1)!;
    expect(attempt.exception?.name).toBe('comfyui-invalid-input');
    expect(attempt.exception?.message).toContain(`Template image-to-image input "image": Input of ${PNG.length} bytes is larger than COMFYUI_INPUT_MAX_BYTES (${PNG.length} > 50 bytes)`);
    expect(stack.comfy.stats.promptsSubmitted).toBe(0);
  });
});

describe('a template media input passed as a URI in a STR', () => {
  it('uploads a data: URI to ComfyUI first and runs the graph on the stored name', async () => {
    const stack = await fixture.start();
    await fixture.ready({ COMFYUI_TEMPLATES_DIR: imageToImage((t) => (t.inputs.image!.type = 'STR')) });
    const wfRun = await runWf(stack, { image: { str: `data:image/png;base64,${PNG.toString('base64')}` }, prompt: { str: 'as a watercolour' } }, VariableType.STR);
    expect(wfRun.status).toBe(LHStatus.COMPLETED);
    const result = JSON.parse(taskRunOf(stack).attempts.at(-1)!.output!.jsonObj!);
    expect(readFileSync(path.join(stack.comfy.inputDir, subfolderOf(stack), 'image.png'))).toEqual(PNG);
    expect(stack.comfy.history(result.prompt_id)!.prompt[2]['10']!.inputs.image).toBe(`${subfolderOf(stack)}/image.png`);
  });
});
