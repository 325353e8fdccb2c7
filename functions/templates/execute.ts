import { type Failure, unavailable } from '../execute-comfyui-workflow/failure.js';
import { executeComfyuiWorkflow, type Outcome, type WorkflowResult } from '../execute-comfyui-workflow/handler.js';
import type { OutputData, OutputFile } from '../execute-comfyui-workflow/outputs.js';
import { placeMediaInput } from '../execute-comfyui-workflow/media-inputs.js';
import type { HandlerDeps, MediaBytes } from '../execute-comfyui-workflow/ports.js';
import type { Workflow } from '../execute-comfyui-workflow/workflow.js';
import { fillWorkflow } from './fill.js';
import { checkInputs, type TaskValue } from './inputs.js';
import type { Template } from './template.js';

/** A template task's output in LittleHorse (a JSON_OBJ). */
export interface TemplateResult {
  prompt_id: string;
  /** Each named output: the entries its node recorded, files as in the raw result, data (e.g. text) beside them. */
  outputs: Record<string, Array<OutputFile | OutputData>>;
  /** The value of every seed input (default "random"), derived or passed, so any result can be reproduced. */
  seeds: Record<string, number>;
}

/** A template task whose inputs passed: the graph to submit and its seeds. */
export interface PreparedTemplateTask {
  template: Template;
  /** Filled with every input but the media to upload, whose targets still hold the template's value. */
  workflow: Workflow;
  seeds: Record<string, number>;
  /** Each media input's file to upload (its bytes, or a URI to fetch), by input name. */
  media: Record<string, string | MediaBytes>;
}

/**
 * Checks a template task's inputs and fills the graph, before anything waits for or reaches ComfyUI:
 * a bad input is the business exception comfyui-invalid-input naming the input and the rule.
 */
export function prepareTemplateTask(
  template: Template,
  variables: Record<string, TaskValue | undefined>,
  idempotencyKey: string,
): { ok: true; task: PreparedTemplateTask } | { ok: false; failure: Failure } {
  const checked = checkInputs(template, variables, idempotencyKey);
  if (!checked.ok) return checked;
  const { values, media, seeds } = checked.inputs;
  return { ok: true, task: { template, workflow: fillWorkflow(template, values), seeds, media } };
}

/** Runs a prepared template task on the raw workflow's path (submit or attach, follow, collect) and names its outputs. */
export async function executeTemplate(prepared: PreparedTemplateTask, deps: HandlerDeps): Promise<Outcome<TemplateResult>> {
  deps.log(`template ${prepared.template.name}`);
  for (const [name, seed] of Object.entries(prepared.seeds)) deps.log(`input "${name}": seed ${seed}`);
  const placed = await placeMedia(prepared, deps);
  if (!placed.ok) {
    deps.log(`media input not uploaded: ${placed.failure.message}`);
    return placed;
  }
  const outcome = await executeComfyuiWorkflow(placed.workflow, deps);
  return outcome.ok ? { ok: true, result: templateResult(prepared.template, outcome.result, prepared.seeds) } : outcome;
}

/** Uploads each media input to ComfyUI and puts the name it was stored under into the input's targets. */
async function placeMedia(prepared: PreparedTemplateTask, deps: HandlerDeps): Promise<{ ok: true; workflow: Workflow } | { ok: false; failure: Failure }> {
  const { template, media } = prepared;
  const names: Record<string, string> = {};
  for (const input of template.inputs) {
    const source = media[input.name];
    if (source === undefined || input.media === undefined) continue;
    const which = { prefix: `Template ${template.name} input "${input.name}"`, details: { template: template.name, input: input.name } };
    if (!deps.placeInput) {
      return { ok: false, failure: unavailable(`${which.prefix}: this worker has no way to upload a file to ComfyUI`, which.details) };
    }
    const [target] = input.targets;
    const placed = await placeMediaInput(deps.placeInput, source, { nodeId: target!.nodeId, input: target!.input, media: input.media }, deps.signal, which);
    if (!placed.ok) return placed;
    names[input.name] = placed.name;
    deps.log(`input "${input.name}" uploaded to ComfyUI as ${placed.name}`);
  }
  return { ok: true, workflow: fillWorkflow({ inputs: template.inputs, workflow: prepared.workflow }, names) };
}

/** The raw result regrouped under the template's output names. */
export function templateResult(template: Pick<Template, 'outputs'>, result: WorkflowResult, seeds: Record<string, number>): TemplateResult {
  const outputs: TemplateResult['outputs'] = {};
  for (const output of template.outputs) {
    outputs[output.name] = [...result.outputs, ...result.data].filter((entry) => entry.node_id === output.nodeId);
  }
  return { prompt_id: result.prompt_id, outputs, seeds };
}
