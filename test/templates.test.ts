import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { templateResult } from '../functions/templates/execute.js';
import { fillWorkflow } from '../functions/templates/fill.js';
import { checkInputs, type TaskValue } from '../functions/templates/inputs.js';
import { derivedSeed, SEED_MAX } from '../functions/templates/seed.js';
import { parseTemplate, type Template, templateTaskDefName } from '../functions/templates/template.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are edited freely, field by field
type Fixture = any;

const shipped = (name: string) => readFileSync(path.resolve(import.meta.dirname, '../templates', `${name}.json`), 'utf8');

/** A small template, changed per test through `edit`. */
function templateText(edit: (t: Fixture) => void = () => {}): string {
  const t: Fixture = {
    inputs: {
      prompt: { type: 'STR', targets: ['6.inputs.text'] },
      seed: { type: 'INT', targets: ['3.inputs.seed'], default: 'random' },
      steps: { type: 'INT', targets: ['3.inputs.steps'], default: 20, min: 1, max: 50 },
      cfg: { type: 'DOUBLE', targets: ['3.inputs.cfg'], default: 7.5 },
      sampler: { type: 'STR', targets: ['3.inputs.sampler_name'], default: 'euler', enum: ['euler', 'dpmpp_2m'] },
      api_key: { type: 'STR', targets: ['6.inputs.note'], default: '', masked: true },
    },
    outputs: { images: { node: '9' } },
    workflow: {
      '3': { class_type: 'KSampler', inputs: { seed: 1, steps: 20, cfg: 8, sampler_name: 'euler', model: ['4', 0] } },
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'a.safetensors' } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'x', note: '', clip: ['4', 1] } },
      '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'out', images: ['3', 0] } },
    },
  };
  edit(t);
  return JSON.stringify(t);
}

function parsed(text = templateText()): Template {
  const result = parseTemplate('templates/sample.json', text);
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.template;
}

function problems(text: string, file = 'templates/sample.json'): string[] {
  const result = parseTemplate(file, text);
  return result.ok ? [] : result.problems;
}

const str = (value: string): TaskValue => ({ type: 'STR', value });
const int = (value: number): TaskValue => ({ type: 'INT', value });

describe('parsing a template file', () => {
  it('reads the shipped templates, inputs in file order', () => {
    for (const name of ['text-to-image', 'image-to-image', 'upscale']) {
      const result = parseTemplate(`templates/${name}.json`, shipped(name));
      expect(result.ok ? result.template.name : result.problems).toBe(name);
    }
    const t = parsed(shipped('text-to-image'));
    expect(t.inputs.map((i) => i.name)).toEqual(['prompt', 'negative_prompt', 'seed', 'width', 'height', 'steps', 'sampler']);
    expect(t.inputs[0]!.targets).toEqual([{ nodeId: '6', input: 'text' }]);
    expect(t.outputs).toEqual([{ name: 'images', nodeId: '9', description: 'the generated images' }]);
  });

  it('names the file and the target for an unknown node id', () => {
    const text = templateText((t) => (t.inputs.prompt.targets = ['66.inputs.text']));
    expect(problems(text)).toEqual([expect.stringMatching(/^templates\/sample\.json: inputs\.prompt\.targets\[0\] "66\.inputs\.text": unknown node id "66"/)]);
  });

  it('names a target input the node does not have', () => {
    const text = templateText((t) => (t.inputs.steps.targets = ['3.inputs.stepz']));
    expect(problems(text)[0]).toMatch(/inputs\.steps\.targets\[0\] "3\.inputs\.stepz": target input missing: node 3 \(KSampler\) has no input "stepz"/);
  });

  it('refuses a target whose graph value is of another type', () => {
    const text = templateText((t) => (t.inputs.prompt.targets = ['3.inputs.steps']));
    expect(problems(text)[0]).toMatch(/inputs\.prompt\.targets\[0\] "3\.inputs\.steps": type mismatch: the input is STR but the graph holds a whole number/);
  });

  it('refuses a target that is a link to another node', () => {
    const text = templateText((t) => (t.inputs.prompt.targets = ['6.inputs.clip']));
    expect(problems(text)[0]).toMatch(/"6\.inputs\.clip": the input is linked to node 4/);
  });

  it('refuses a default outside the bounds, naming the field', () => {
    const text = templateText((t) => (t.inputs.steps.default = 80));
    expect(problems(text)).toEqual(['templates/sample.json: inputs.steps.default 80: default outside the input\'s rules: is above the maximum 50']);
  });

  it('refuses a default not in the enum, and min above max', () => {
    const text = templateText((t) => {
      t.inputs.sampler.default = 'heun';
      t.inputs.steps.min = 60;
    });
    expect(problems(text)).toEqual([
      expect.stringContaining('inputs.steps.max 50 is below min 60'),
      expect.stringContaining('inputs.steps.default 20: default outside the input\'s rules: is below the minimum 60'),
      expect.stringContaining('inputs.sampler.default "heun": default outside the input\'s rules: is not one of "euler", "dpmpp_2m"'),
    ]);
  });

  it('allows a random default only on INT inputs', () => {
    const text = templateText((t) => (t.inputs.prompt.default = 'random'));
    expect(problems(text)).toEqual([expect.stringContaining('inputs.prompt.default "random" (a seed derived from the TaskRun) applies only to INT inputs')]);
  });

  it('refuses a misspelt key and an unknown type', () => {
    const text = templateText((t) => {
      t.inputs.prompt.target = t.inputs.prompt.targets;
      t.inputs.steps.type = 'NUMBER';
    });
    const found = problems(text);
    expect(found).toContainEqual('templates/sample.json: inputs.prompt has unknown key "target" (allowed: type, targets, default, min, max, enum, media, description, masked)');
    expect(found).toContainEqual(expect.stringContaining('inputs.steps.type expects one of STR, INT, DOUBLE, BOOL, JSON_OBJ, JSON_ARR'));
  });

  it('refuses an output naming a node the workflow does not have', () => {
    const text = templateText((t) => (t.outputs.images.node = '99'));
    expect(problems(text)).toEqual([expect.stringContaining('outputs.images.node: unknown node id "99"')]);
  });

  it('refuses one target set by two inputs', () => {
    const text = templateText((t) => (t.inputs.steps.targets = ['3.inputs.seed']));
    expect(problems(text)).toContainEqual(expect.stringContaining('"3.inputs.seed": already set by input "seed"'));
  });

  it('refuses invalid JSON, a UI-format graph and a file name that cannot name a TaskDef', () => {
    expect(problems('{ "inputs": ')[0]).toMatch(/^templates\/sample\.json: is not valid JSON/);
    expect(problems(templateText((t) => (t.workflow = { nodes: [], links: [] }))).join()).toContain('Save (API Format)');
    expect(problems(templateText(), 'templates/my template.json')[0]).toContain('the file name "my template" names the TaskDef');
  });

  it('names the TaskDef after the file, with the prefix and an explicit version', () => {
    expect(templateTaskDefName(parsed(), 'comfyui-')).toBe('comfyui-sample');
    expect(templateTaskDefName(parsed(templateText((t) => (t.version = 2))), 'comfyui-')).toBe('comfyui-sample-v2');
  });
});

describe('checking a task\'s inputs against the template', () => {
  it('takes the values given and the defaults for NULL', () => {
    const result = checkInputs(parsed(), { prompt: str('a cat'), steps: int(30), cfg: int(6), seed: int(42) }, 'wf/1');
    expect(result.ok && result.inputs).toEqual({ values: { prompt: 'a cat', seed: 42, steps: 30, cfg: 6, sampler: 'euler', api_key: '' }, media: {}, seeds: { seed: 42 } });
  });

  it('names each bad input and the rule it breaks, all at once', () => {
    const result = checkInputs(parsed(), { steps: int(0), sampler: str('heun'), cfg: str('high') }, 'wf/1');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-input' });
    expect(result.failure.message).toBe(
      'Template sample: input "prompt" is required (STR) and was not set; input "steps" 0 is below the minimum 1; ' +
        'input "cfg" expects DOUBLE (a number) but the task passed STR; input "sampler" "heun" is not one of "euler", "dpmpp_2m".',
    );
    expect((result.failure.details as { problems: Array<{ input: string; rule: string }> }).problems.map((p) => `${p.input}:${p.rule}`)).toEqual([
      'prompt:required',
      'steps:min',
      'cfg:type',
      'sampler:enum',
    ]);
  });

  it('never puts a masked input\'s value in the message', () => {
    const t = parsed(templateText((x) => (x.inputs.api_key.enum = ['', 'k1'])));
    const result = checkInputs(t, { prompt: str('p'), api_key: str('s3cr3t') }, 'wf/1');
    expect(!result.ok && result.failure.message).toContain('input "api_key" (masked value) is not one of');
    expect(JSON.stringify(result)).not.toContain('s3cr3t');
  });

  it('reports a value LittleHorse sent that could not be read', () => {
    const result = checkInputs(parsed(), { prompt: { type: 'UNREADABLE', problem: 'JSON_OBJ is not valid JSON' } }, 'wf/1');
    expect(!result.ok && result.failure.message).toContain('input "prompt" could not be read: JSON_OBJ is not valid JSON');
  });
});

describe('seeds', () => {
  it('derives the same seed for every attempt of a TaskRun and returns it', () => {
    const first = checkInputs(parsed(), { prompt: str('p') }, 'wf-1/task-a');
    const retry = checkInputs(parsed(), { prompt: str('p') }, 'wf-1/task-a');
    expect(first.ok && retry.ok).toBe(true);
    if (!first.ok || !retry.ok) return;
    expect(first.inputs.seeds.seed).toBe(retry.inputs.seeds.seed);
    expect(first.inputs.values.seed).toBe(first.inputs.seeds.seed);
  });

  it('derives different seeds for different TaskRuns and different inputs', () => {
    const seeds = new Set(Array.from({ length: 50 }, (_, i) => derivedSeed(`wf-${i}/task`, 'seed')));
    expect(seeds.size).toBe(50);
    expect(derivedSeed('wf/task', 'seed')).not.toBe(derivedSeed('wf/task', 'noise_seed'));
  });

  it('stays inside the input\'s bounds and within exact integers', () => {
    for (let i = 0; i < 200; i++) {
      const seed = derivedSeed(`k${i}`, 'seed', 10, 20);
      expect(seed).toBeGreaterThanOrEqual(10);
      expect(seed).toBeLessThanOrEqual(20);
    }
    const wide = derivedSeed('k', 'seed', 0, 2 ** 64 - 1);
    expect(Number.isSafeInteger(wide) && wide <= SEED_MAX).toBe(true);
  });

  it('uses a seed the task passes instead of deriving one, and returns it all the same', () => {
    const result = checkInputs(parsed(), { prompt: str('p'), seed: int(7) }, 'wf/1');
    expect(result.ok && result.inputs).toMatchObject({ values: { seed: 7 }, seeds: { seed: 7 } });
  });
});

describe('filling the graph', () => {
  it('sets every target and leaves the template\'s graph as it was', () => {
    const t = parsed(templateText((x) => (x.inputs.prompt.targets = ['6.inputs.text', '9.inputs.filename_prefix'])));
    const before = JSON.stringify(t.workflow);
    const workflow = fillWorkflow(t, { prompt: 'a cat', seed: 5, steps: 10, cfg: 7.5, sampler: 'euler', api_key: '' });
    expect(workflow['6']!.inputs).toEqual({ text: 'a cat', note: '', clip: ['4', 1] });
    expect(workflow['9']!.inputs.filename_prefix).toBe('a cat');
    expect(workflow['3']!.inputs).toMatchObject({ seed: 5, steps: 10, cfg: 7.5, model: ['4', 0] });
    expect(JSON.stringify(t.workflow)).toBe(before);
  });
});

describe('shaping the result', () => {
  it('groups the entries of each named output node, with the prompt id and the seeds', () => {
    const file = { node_id: '9', kind: 'images', filename: 'out_00001_.png', subfolder: '', type: 'output', path: '/out/out_00001_.png' };
    const other = { ...file, node_id: '12', filename: 'other.png', path: '/out/other.png' };
    const text = { node_id: '9', kind: 'text', value: ['hi'] };
    const result = templateResult(parsed(), { prompt_id: 'p-1', outputs: [file, other], data: [text] }, { seed: 11 });
    expect(result).toEqual({ prompt_id: 'p-1', outputs: { images: [file, text] }, seeds: { seed: 11 } });
  });
});
