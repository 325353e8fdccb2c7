import { z } from 'zod';
import { FETCHABLE } from '../execute-comfyui-workflow/media-inputs.js';
import { COMFY_WIDGET_TYPES, INPUT_TYPES, type InputTypeRule } from './input-types.js';
import { isLink, RANDOM, type Template, type TemplateInput } from './template.js';

/**
 * GET /object_info: node class → its description (server.py node_info). Each input spec is
 * [type, options?]: the type a string ("INT", "MODEL", "IMAGE,MASK", "*"), or, for a combo, the list of
 * its values (older nodes) or "COMBO" with options.options (nodes on the v3 schema).
 */
const inputSpecSchema = z.array(z.unknown()).min(1);
const nodeInfoSchema = z.looseObject({
  input: z
    .looseObject({
      required: z.record(z.string(), inputSpecSchema).optional(),
      optional: z.record(z.string(), inputSpecSchema).optional(),
    })
    .default({}),
  output_node: z.boolean().optional(),
});
export const objectInfoSchema = z.record(z.string(), nodeInfoSchema);
export type ObjectInfo = z.infer<typeof objectInfoSchema>;

/** One input as ComfyUI declares it. */
interface ComfyInput {
  type: string;
  options?: unknown[];
  min?: number;
  max?: number;
}

export type CheckedTemplate = { ok: true; template: Template } | { ok: false; problems: string[] };

/**
 * Whether a template can run on this ComfyUI: every class_type exists, every target input exists with
 * a type the template input can fill, every combo value the graph or the template uses is in ComfyUI's
 * list, every number inside ComfyUI's range, every named output an output node. On success the
 * inputs' bounds are narrowed to ComfyUI's, so a value ComfyUI would refuse is refused by name first.
 */
export function checkTemplateOnComfy(template: Template, info: ObjectInfo): CheckedTemplate {
  const problems: string[] = [];
  const targeted = new Set(template.inputs.flatMap((input) => input.targets.map((t) => `${t.nodeId}/${t.input}`)));
  for (const [nodeId, node] of Object.entries(template.workflow)) {
    const nodeInfo = info[node.class_type];
    if (!nodeInfo) {
      problems.push(`node ${nodeId}: ComfyUI has no node class ${node.class_type} (a custom node not installed?)`);
      continue;
    }
    for (const [name, value] of Object.entries(node.inputs)) {
      const declared = comfyInput(info, node.class_type, name);
      if (!declared || targeted.has(`${nodeId}/${name}`) || isLink(value)) continue;
      const problem = widgetProblem(declared, value);
      if (problem) problems.push(`node ${nodeId} (${node.class_type}) input ${name}: ${problem}`);
    }
  }
  const inputs = template.inputs.map((input) => narrowed(input, template, info, problems));
  for (const output of template.outputs) {
    const classType = template.workflow[output.nodeId]!.class_type;
    if (info[classType] && info[classType].output_node !== true) {
      problems.push(`outputs.${output.name}: node ${output.nodeId} (${classType}) is not an output node in ComfyUI, so it records no outputs`);
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, template: { ...template, inputs } };
}

/** The input with its bounds narrowed to every target's; problems for a target it cannot fill. */
function narrowed(input: TemplateInput, template: Template, info: ObjectInfo, problems: string[]): TemplateInput {
  const rule: InputTypeRule = INPUT_TYPES[input.type];
  let { min, max } = input;
  for (const target of input.targets) {
    const classType = template.workflow[target.nodeId]!.class_type;
    if (!info[classType]) continue; // already reported
    const where = `inputs.${input.name} → ${target.nodeId}.inputs.${target.input} (${classType})`;
    const declared = comfyInput(info, classType, target.input);
    if (!declared) {
      problems.push(`${where}: ComfyUI's ${classType} has no input ${target.input}`);
      continue;
    }
    const fits = rule.comfyTypes ? rule.comfyTypes.includes(declared.type) : !COMFY_WIDGET_TYPES.includes(declared.type);
    if (!fits) {
      problems.push(`${where}: ComfyUI expects ${declared.type} there, which a ${input.type} input cannot fill`);
      continue;
    }
    // A media input's URI default is uploaded first: only a file name must already be in ComfyUI's list.
    const candidates = [...(input.enum ?? []), ...(input.default === undefined || input.default === RANDOM ? [] : [input.default])].filter(
      (value) => input.media === undefined || typeof value !== 'string' || !FETCHABLE.test(value),
    );
    for (const value of candidates) {
      const problem = widgetProblem(declared, value);
      if (problem) problems.push(`${where}: ${JSON.stringify(value)} ${problem}`);
    }
    if (declared.min !== undefined) min = Math.max(min ?? -Infinity, declared.min);
    if (declared.max !== undefined) max = Math.min(max ?? Infinity, declared.max);
  }
  if (min !== undefined && max !== undefined && min > max) {
    problems.push(`inputs.${input.name}: its range and ComfyUI's do not overlap (min ${min}, max ${max})`);
  }
  return { ...input, min, max };
}

function comfyInput(info: ObjectInfo, classType: string, name: string): ComfyInput | undefined {
  const inputs = info[classType]?.input;
  const spec = inputs?.required?.[name] ?? inputs?.optional?.[name];
  if (!spec) return undefined;
  const [type, options] = spec;
  const config = typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : {};
  const number = (key: string) => (typeof config[key] === 'number' ? (config[key] as number) : undefined);
  if (Array.isArray(type)) return { type: 'COMBO', options: type };
  if (type === 'COMBO') return { type, options: Array.isArray(config.options) ? config.options : [] };
  return { type: String(type), min: number('min'), max: number('max') };
}

/** What ComfyUI's validate_inputs would refuse in a widget value: not in the combo's list, out of range. */
function widgetProblem(declared: ComfyInput, value: unknown): string | undefined {
  if (declared.options && !declared.options.includes(value)) {
    const shown = declared.options.slice(0, 10).map((v) => JSON.stringify(v)).join(', ');
    return `is not in ComfyUI's list (${shown}${declared.options.length > 10 ? ', …' : ''}${declared.options.length === 0 ? 'empty' : ''})`;
  }
  if (typeof value === 'number') {
    if (declared.min !== undefined && value < declared.min) return `is below ComfyUI's minimum ${declared.min}`;
    if (declared.max !== undefined && value > declared.max) return `is above ComfyUI's maximum ${declared.max}`;
  }
  return undefined;
}
