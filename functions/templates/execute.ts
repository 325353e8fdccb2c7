import { executeComfyuiWorkflow, type Outcome, type WorkflowResult } from '../execute-comfyui-workflow/handler.js';
import type { OutputData, OutputFile } from '../execute-comfyui-workflow/outputs.js';
import type { HandlerDeps } from '../execute-comfyui-workflow/ports.js';
import { fillWorkflow } from './fill.js';
import { checkInputs, type TaskValue } from './inputs.js';
import type { Template } from './template.js';

/** A template task's output in LittleHorse (a JSON_OBJ). */
export interface TemplateResult {
  prompt_id: string;
  /** Each named output: the entries its node recorded, files as in the raw result, data (e.g. text) beside them. */
  outputs: Record<string, Array<OutputFile | OutputData>>;
  /** The value of every input that defaulted to "random", so any result can be reproduced. */
  seeds: Record<string, number>;
}

/**
 * Runs one template task: check the inputs, fill the graph, then the same path as a raw workflow
 * (submit or attach, follow, collect), and shape the result by the template's named outputs.
 */
export async function executeTemplate(
  template: Template,
  variables: Record<string, TaskValue | undefined>,
  idempotencyKey: string,
  deps: HandlerDeps,
): Promise<Outcome<TemplateResult>> {
  const checked = checkInputs(template, variables, idempotencyKey);
  if (!checked.ok) {
    deps.log(`invalid input: ${checked.failure.message}`);
    return { ok: false, failure: checked.failure };
  }
  const { values, seeds } = checked.inputs;
  for (const [name, seed] of Object.entries(seeds)) deps.log(`input "${name}": seed ${seed} derived from the TaskRun`);
  deps.log(`template ${template.name}`);
  const outcome = await executeComfyuiWorkflow(fillWorkflow(template, values), deps);
  return outcome.ok ? { ok: true, result: templateResult(template, outcome.result, seeds) } : outcome;
}

/** The raw result regrouped under the template's output names. */
export function templateResult(template: Pick<Template, 'outputs'>, result: WorkflowResult, seeds: Record<string, number>): TemplateResult {
  const outputs: TemplateResult['outputs'] = {};
  for (const output of template.outputs) {
    outputs[output.name] = [...result.outputs, ...result.data].filter((entry) => entry.node_id === output.nodeId);
  }
  return { prompt_id: result.prompt_id, outputs, seeds };
}
