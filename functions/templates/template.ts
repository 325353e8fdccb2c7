import { z } from 'zod';
import { parseWorkflow, type Workflow } from '../execute-comfyui-workflow/workflow.js';
import type { MediaKind } from '../execute-comfyui-workflow/ports.js';
import { describeValue, INPUT_TYPE_NAMES, INPUT_TYPES, type InputType, type InputValue, MEDIA_KINDS } from './input-types.js';

/** A seed input's default: a value derived from the TaskRun, so a retried attempt reuses it. */
export const RANDOM = 'random';

/** LittleHorse names are hostname-like (LHUtil.isValidLHName): letters, digits, inner hyphens. */
const LH_NAME = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;
/** Input and output names: identifiers a WfSpec can write (and JSONPath can read) as they are. */
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** "<node id>.inputs.<input name>" */
const TARGET = /^(.+)\.inputs\.([^.]+)$/;

const inputSchema = z.strictObject({
  type: z.enum(INPUT_TYPE_NAMES, { error: `expects one of ${INPUT_TYPE_NAMES.join(', ')}` }),
  targets: z
    .array(z.string().regex(TARGET, 'expects "<node id>.inputs.<input name>", e.g. "6.inputs.text"'), { error: 'expects a list of targets, e.g. ["6.inputs.text"]' })
    .min(1, 'needs at least one target, e.g. ["6.inputs.text"]'),
  default: z.unknown().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  enum: z.array(z.union([z.string(), z.number()]), { error: 'expects a list of strings or numbers' }).min(1, 'needs at least one value').optional(),
  media: z.enum(MEDIA_KINDS, { error: `expects one of ${MEDIA_KINDS.join(', ')}: the kind of file the loader reads` }).optional(),
  description: z.string().optional(),
  masked: z.boolean().default(false),
});

const outputSchema = z.strictObject({
  node: z.string({ error: 'expects the id of an output node in the workflow, e.g. "9"' }).min(1),
  description: z.string().optional(),
});

const fileSchema = z.strictObject({
  description: z.string().optional(),
  version: z.number().int().positive('expects a whole number from 1').optional(),
  inputs: z.record(z.string().regex(FIELD_NAME, 'names an input with letters, digits and _ (starting with a letter)'), inputSchema),
  outputs: z
    .record(z.string().regex(FIELD_NAME, 'names an output with letters, digits and _ (starting with a letter)'), outputSchema)
    .refine((outputs) => Object.keys(outputs).length > 0, 'needs at least one named output'),
  workflow: z.record(z.string(), z.unknown(), { error: 'expects the graph as ComfyUI\'s "Export (API)" writes it' }),
});

/** Where an input goes in the graph. */
export interface Target {
  nodeId: string;
  input: string;
}

export interface TemplateInput {
  name: string;
  type: InputType;
  targets: Target[];
  /** Used when the task passes NULL; RANDOM for a seed derived from the TaskRun. Absent: required. */
  default?: InputValue | typeof RANDOM;
  min?: number;
  max?: number;
  enum?: Array<string | number>;
  /** A file for a loader: uploaded to ComfyUI (BYTES, or a STR holding a URI) and replaced by its stored name. */
  media?: MediaKind;
  description?: string;
  masked: boolean;
}

export interface TemplateOutput {
  name: string;
  nodeId: string;
  description?: string;
}

export interface Template {
  /** The file name without .json: the TaskDef is named after it. */
  name: string;
  file: string;
  version?: number;
  description?: string;
  /** In the file's order, which is the order of the TaskDef's input variables. */
  inputs: TemplateInput[];
  outputs: TemplateOutput[];
  workflow: Workflow;
}

export type ParsedTemplate = { ok: true; template: Template } | { ok: false; problems: string[] };

/**
 * Parses one template file's text. Every problem names the file and the field: unknown node id,
 * target input missing, type mismatch, default outside bounds, and the like.
 */
export function parseTemplate(file: string, text: string): ParsedTemplate {
  const name = file.replace(/^.*[\\/]/, '').replace(/\.json$/i, '');
  const at = (field: string) => `${file}: ${field}`;
  if (!LH_NAME.test(name)) {
    return { ok: false, problems: [at(`the file name "${name}" names the TaskDef: use letters, digits and inner hyphens (e.g. text-to-image.json)`)] };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [at(`is not valid JSON (${(error as Error).message})`)] };
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((issue) => at(`${issue.path.join('.') || '(top level)'} ${issueMessage(issue)}`)) };
  }
  const graph = parseWorkflow(parsed.data.workflow);
  if (!graph.ok) return { ok: false, problems: [at(`workflow: ${graph.failure.message}`)] };
  const workflow = graph.workflow;

  const problems: string[] = [];
  const claimed = new Map<string, string>();
  const inputs: TemplateInput[] = [];
  for (const [inputName, spec] of Object.entries(parsed.data.inputs)) {
    const field = (name: string) => at(`inputs.${inputName}.${name}`);
    const targets: Target[] = [];
    spec.targets.forEach((path, index) => {
      const problem = targetProblem(workflow, path, spec.type) ?? (claimed.has(path) ? `already set by input "${claimed.get(path)}"` : undefined);
      if (problem) return problems.push(`${field(`targets[${index}]`)} "${path}": ${problem}`);
      claimed.set(path, inputName);
      const [, nodeId = '', input = ''] = TARGET.exec(path)!;
      targets.push({ nodeId, input });
    });
    problems.push(...boundsProblems(spec, field));
    const { type, min, max, enum: allowed, media, description, masked } = spec;
    inputs.push({ name: inputName, type, targets, default: spec.default as TemplateInput['default'], min, max, enum: allowed, media, description, masked });
  }
  const outputs: TemplateOutput[] = [];
  for (const [outputName, spec] of Object.entries(parsed.data.outputs)) {
    if (!workflow[spec.node]) {
      problems.push(at(`outputs.${outputName}.node: unknown node id "${spec.node}" (the workflow has ${Object.keys(workflow).join(', ')})`));
      continue;
    }
    outputs.push({ name: outputName, nodeId: spec.node, description: spec.description });
  }
  if (problems.length > 0) return { ok: false, problems };
  const { version, description } = parsed.data;
  return { ok: true, template: { name, file, version, description, inputs, outputs, workflow } };
}

/** Why a target cannot take the input: no such node, no such input, a link, a value of another type. */
function targetProblem(workflow: Workflow, path: string, type: InputType): string | undefined {
  const [, nodeId = '', input = ''] = TARGET.exec(path) ?? [];
  const node = workflow[nodeId];
  if (!node) return `unknown node id "${nodeId}" (the workflow has ${Object.keys(workflow).join(', ')})`;
  if (!(input in node.inputs)) {
    return `target input missing: node ${nodeId} (${node.class_type}) has no input "${input}" (it has ${Object.keys(node.inputs).join(', ') || 'none'})`;
  }
  const current = node.inputs[input];
  if (isLink(current)) return `the input is linked to node ${String(current[0])}; a template input can only set a value`;
  if (!INPUT_TYPES[type].fits(current)) return `type mismatch: the input is ${type} but the graph holds ${describeValue(current)} (${JSON.stringify(current)}) there`;
  return undefined;
}

/** A misspelt key is the commonest slip in a hand-written file: name it and the keys that are allowed. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'unrecognized_keys') return issue.message;
  const allowed = issue.path.length === 0 ? fileSchema.keyof().options : issue.path[0] === 'outputs' ? outputSchema.keyof().options : inputSchema.keyof().options;
  return `has unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed.join(', ')})`;
}

/** The TaskDef a template registers: its name, with an explicit version appended ("-v2"). */
export function templateTaskDefName(template: Pick<Template, 'name' | 'version'>, prefix: string): string {
  return `${prefix}${template.name}${template.version === undefined ? '' : `-v${template.version}`}`;
}

/** ComfyUI reads a two-item [node id, output index] list as a link, not a value (execution.py). */
export function isLink(value: unknown): value is [string, number] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && Number.isInteger(value[1]);
}

type InputSpec = z.infer<typeof inputSchema>;

/** min ≤ max, bounds only on numbers, enum values and the default of the input's type and inside its bounds. */
function boundsProblems(spec: InputSpec, field: (name: string) => string): string[] {
  const rule = INPUT_TYPES[spec.type];
  const problems: string[] = [];
  if (spec.media !== undefined && spec.type !== 'STR' && spec.type !== 'BYTES') {
    problems.push(`${field('media')} applies only to BYTES inputs (the file's bytes) and STR inputs (a URL, s3://, gs:// or data: URI)`);
  }
  if (spec.type === 'BYTES' && spec.media === undefined) {
    problems.push(`${field('media')} is required for a BYTES input: "image", "audio" or "video", the kind of file its loader reads`);
  }
  if (!rule.bounded) {
    for (const key of ['min', 'max'] as const) if (spec[key] !== undefined) problems.push(`${field(key)} applies only to INT and DOUBLE inputs`);
  } else {
    for (const key of ['min', 'max'] as const) {
      if (spec[key] !== undefined && !rule.fits(spec[key])) problems.push(`${field(key)} expects ${rule.describe}`);
    }
    if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) problems.push(`${field('max')} ${spec.max} is below min ${spec.min}`);
  }
  if (spec.enum !== undefined) {
    if (!['STR', 'INT', 'DOUBLE'].includes(spec.type)) problems.push(`${field('enum')} applies only to STR, INT and DOUBLE inputs`);
    spec.enum.forEach((value, index) => {
      const problem = valueProblem(value, spec, { skipEnum: true });
      if (problem) problems.push(`${field(`enum[${index}]`)} ${JSON.stringify(value)}: ${problem.message}`);
    });
  }
  if (spec.default === RANDOM) {
    if (spec.type !== 'INT') problems.push(`${field('default')} "${RANDOM}" (a seed derived from the TaskRun) applies only to INT inputs`);
    if (spec.enum !== undefined) problems.push(`${field('default')} "${RANDOM}" cannot go with an enum`);
  } else if (spec.default !== undefined) {
    const problem = valueProblem(spec.default, spec);
    if (problem) problems.push(`${field('default')} ${JSON.stringify(spec.default)}: default outside the input's rules: ${problem.message}`);
  }
  return problems;
}

/** Which rule a value breaks: its type, a bound, the enum, or the shape of a link. */
export interface ValueProblem {
  rule: 'type' | 'min' | 'max' | 'enum' | 'link';
  message: string;
}

/** Why a value does not satisfy an input's type, bounds or enum; undefined when it does. */
export function valueProblem(value: unknown, spec: Pick<TemplateInput, 'type' | 'min' | 'max' | 'enum'>, options: { skipEnum?: boolean } = {}): ValueProblem | undefined {
  const rule = INPUT_TYPES[spec.type];
  if (!rule.fits(value)) return { rule: 'type', message: `expects ${rule.describe}, got ${describeValue(value)}` };
  if (typeof value === 'number') {
    if (spec.min !== undefined && value < spec.min) return { rule: 'min', message: `is below the minimum ${spec.min}` };
    if (spec.max !== undefined && value > spec.max) return { rule: 'max', message: `is above the maximum ${spec.max}` };
  }
  if (!options.skipEnum && spec.enum !== undefined && !spec.enum.includes(value as string | number)) {
    return { rule: 'enum', message: `is not one of ${spec.enum.map((v) => JSON.stringify(v)).join(', ')}` };
  }
  if (spec.type === 'JSON_ARR' && isLink(value)) {
    return { rule: 'link', message: 'is a two-item [string, whole number] list, which ComfyUI would read as a link to another node' };
  }
  return undefined;
}
