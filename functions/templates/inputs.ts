import type { Failure } from '../execute-comfyui-workflow/failure.js';
import { FETCHABLE } from '../execute-comfyui-workflow/media-inputs.js';
import { mediaTypeOf } from '../execute-comfyui-workflow/media-type.js';
import type { MediaBytes } from '../execute-comfyui-workflow/ports.js';
import { INPUT_TYPES, type InputValue, type VariableTypeName } from './input-types.js';
import { derivedSeed } from './seed.js';
import { RANDOM, type Template, type TemplateInput, valueProblem } from './template.js';

/** One input variable of a task as LittleHorse sent it (lib/littlehorse/task-input.ts decodes it). */
export type TaskValue =
  | { type: 'NULL' }
  | { type: 'STR'; value: string }
  | { type: 'INT' | 'DOUBLE'; value: number }
  | { type: 'BOOL'; value: boolean }
  | { type: 'JSON_OBJ' | 'JSON_ARR'; value: unknown }
  | { type: 'BYTES'; value: Uint8Array }
  /** A value that could not be read (JSON that does not parse, a type this worker does not know). */
  | { type: 'UNREADABLE'; problem: string };

/** The graph values for every input, and the value of every seed input (returned with the result). */
export interface CheckedInputs {
  values: Record<string, InputValue>;
  /** Each media input with a file to upload (BYTES, or a URI): its graph value is the name ComfyUI stores it under. */
  media: Record<string, string | MediaBytes>;
  /** Each input whose default is "random": derived from the TaskRun when the task passed NULL, else as passed. */
  seeds: Record<string, number>;
}

export interface InputProblem {
  input: string;
  rule: string;
  message: string;
}

/**
 * Checks a task's input variables against the template: type, bounds, enum, required, and for a BYTES
 * media input what its bytes are. NULL takes the default; a "random" default becomes the TaskRun's own
 * seed. Every problem is reported at once as the business exception comfyui-invalid-input; nothing
 * reaches ComfyUI.
 */
export function checkInputs(
  template: Pick<Template, 'name' | 'inputs'>,
  variables: Record<string, TaskValue | undefined>,
  idempotencyKey: string,
): { ok: true; inputs: CheckedInputs } | { ok: false; failure: Failure } {
  const values: Record<string, InputValue> = {};
  const media: Record<string, string | MediaBytes> = {};
  const seeds: Record<string, number> = {};
  const problems: InputProblem[] = [];
  const take = (input: TemplateInput, value: InputValue) => {
    if (input.media !== undefined && typeof value === 'string' && FETCHABLE.test(value)) media[input.name] = value;
    else values[input.name] = value;
  };
  for (const input of template.inputs) {
    const given = variables[input.name] ?? { type: 'NULL' };
    if (given.type === 'NULL') {
      if (input.default === RANDOM) {
        values[input.name] = seeds[input.name] = derivedSeed(idempotencyKey, input.name, input.min, input.max);
      } else if (input.default !== undefined) {
        take(input, input.default);
      } else {
        problems.push({ input: input.name, rule: 'required', message: `is required (${describe(input)}) and was not set` });
      }
      continue;
    }
    const value = readValue(input, given);
    if (!value.ok) {
      problems.push({ input: input.name, rule: 'type', message: value.problem });
      continue;
    }
    if (given.type === 'BYTES' && input.media !== undefined) {
      // Read from the bytes themselves, before anything waits for ComfyUI; the size is the upload's to check.
      const type = mediaTypeOf(given.value, input.media);
      if (type.ok) media[input.name] = { data: given.value, contentType: type.contentType, name: input.name };
      else problems.push({ input: input.name, rule: 'media', message: type.problem });
      continue;
    }
    const problem = valueProblem(value.value, input);
    if (problem) {
      problems.push({ input: input.name, rule: problem.rule, message: `${shown(input, value.value)} ${problem.message}` });
      continue;
    }
    take(input, value.value as InputValue);
    if (input.default === RANDOM) seeds[input.name] = value.value as number;
  }
  if (problems.length === 0) return { ok: true, inputs: { values, media, seeds } };
  const lines = problems.map((p) => `input "${p.input}" ${p.message}`);
  return {
    ok: false,
    failure: {
      kind: 'validation',
      name: 'comfyui-invalid-input',
      message: `Template ${template.name}: ${lines.join('; ')}.`,
      details: { template: template.name, problems },
    },
  };
}

function readValue(input: TemplateInput, given: Exclude<TaskValue, { type: 'NULL' }>): { ok: true; value: unknown } | { ok: false; problem: string } {
  const rule = INPUT_TYPES[input.type];
  if (given.type === 'UNREADABLE') return { ok: false, problem: `could not be read: ${given.problem}` };
  if (!(rule.accepts as readonly VariableTypeName[]).includes(given.type)) {
    return { ok: false, problem: `expects ${input.type} (${rule.describe}) but the task passed ${given.type}` };
  }
  return { ok: true, value: given.value };
}

const describe = (input: TemplateInput) => `${input.type}${input.description ? `: ${input.description}` : ''}`;

/** A masked input's value never goes into an error message (it would reach the WfRun and the logs). */
const shown = (input: TemplateInput, value: unknown) => (input.masked ? '(masked value)' : truncated(JSON.stringify(value)));

const truncated = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text);
