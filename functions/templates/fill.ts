import type { Workflow } from '../execute-comfyui-workflow/workflow.js';
import type { InputValue } from './input-types.js';
import type { Template } from './template.js';

/** Template + checked input values → the workflow to submit. The template's own graph is never changed. */
export function fillWorkflow(template: Pick<Template, 'inputs' | 'workflow'>, values: Record<string, InputValue>): Workflow {
  const workflow = structuredClone(template.workflow);
  for (const input of template.inputs) {
    const value = values[input.name];
    if (value === undefined) continue;
    for (const target of input.targets) workflow[target.nodeId]!.inputs[target.input] = structuredClone(value);
  }
  return workflow;
}
