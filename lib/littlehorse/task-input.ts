import type { ScheduledTask, VariableValue } from 'littlehorse-client/proto';
import type { TaskValue } from '../../functions/templates/inputs.js';
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

/** Every input variable of a ScheduledTask by name, as a typed value (a template task's inputs). */
export function readTaskValues(task: ScheduledTask): Record<string, TaskValue> {
  return Object.fromEntries(task.variables.map((v) => [v.varName, v.value ? taskValue(v.value) : { type: 'NULL' }]));
}

/** One VariableValue (a oneof: at most one field set) as a typed value; JSON is parsed here, once. */
export function taskValue(value: VariableValue): TaskValue {
  if (value.str !== undefined) return { type: 'STR', value: value.str };
  if (value.int !== undefined) return { type: 'INT', value: value.int };
  if (value.double !== undefined) return { type: 'DOUBLE', value: value.double };
  if (value.bool !== undefined) return { type: 'BOOL', value: value.bool };
  if (value.bytes !== undefined) return { type: 'BYTES', value: value.bytes };
  for (const [field, type] of [['jsonObj', 'JSON_OBJ'], ['jsonArr', 'JSON_ARR']] as const) {
    const text = value[field];
    if (text === undefined) continue;
    try {
      return { type, value: JSON.parse(text) as unknown };
    } catch (error) {
      return { type: 'UNREADABLE', problem: `the ${type} value is not valid JSON (${(error as Error).message})` };
    }
  }
  const other = Object.entries(value).find(([, v]) => v !== undefined)?.[0];
  return other ? { type: 'UNREADABLE', problem: `a value of kind ${other}, which no template input takes` } : { type: 'NULL' };
}
