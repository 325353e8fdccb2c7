import type { ScheduledTask, VariableValue } from 'littlehorse-client/proto';
import { WORKFLOW_INPUT } from './task-def.js';

export type TaskInput = { ok: true; workflow: unknown } | { ok: false; problem: string };

/**
 * The workflow variable of a ScheduledTask, by name with a positional fallback. LittleHorse
 * re-serializes JSON_OBJ values compactly (VariableValueModel, LHUtil.LH_GSON): always parse.
 */
export function readWorkflowInput(task: ScheduledTask): TaskInput {
  const variable = task.variables.find((v) => v.varName === WORKFLOW_INPUT) ?? task.variables[0];
  if (!variable?.value) {
    return { ok: false, problem: `The task has no "${WORKFLOW_INPUT}" input variable: pass the ComfyUI workflow (API format) as a JSON_OBJ.` };
  }
  const text = jsonText(variable.value);
  if (text === undefined) {
    return { ok: false, problem: `The "${WORKFLOW_INPUT}" input is ${kindOf(variable.value)}, not a JSON object: pass the ComfyUI workflow (API format) as a JSON_OBJ.` };
  }
  try {
    return { ok: true, workflow: JSON.parse(text) };
  } catch (error) {
    return { ok: false, problem: `The "${WORKFLOW_INPUT}" input is not valid JSON (${(error as Error).message}).` };
  }
}

function jsonText(value: VariableValue): string | undefined {
  return value.jsonObj ?? value.str ?? undefined;
}

function kindOf(value: VariableValue): string {
  const kind = (['jsonArr', 'double', 'bool', 'int', 'bytes'] as const).find((k) => value[k] !== undefined);
  return kind ? `a ${kind}` : 'empty (NULL)';
}
