import { VariableType } from 'littlehorse-client/proto';
import { INPUT_TYPES } from '../../functions/templates/input-types.js';
import type { Template } from '../../functions/templates/template.js';
import type { LittleHorseClient } from '../littlehorse/connection.js';
import { type EnsuredTaskDef, ensureTaskDef, type TaskDefShape } from '../littlehorse/task-def.js';
import type { ServedTemplates } from './load.js';

/** A template's TaskDef: one typed input variable per template input, in the file's order. */
export function templateTaskDefShape(template: Template): TaskDefShape {
  return {
    inputs: template.inputs.map((input) => ({ name: input.name, type: VariableType[INPUT_TYPES[input.type].variableType], masked: input.masked })),
    fix: `or set "version" in ${template.file} to a new number, which publishes the changed template as a new TaskDef`,
  };
}

/** Creates each template's TaskDef if missing; throws TaskDefMismatch (exit 5) for one of another shape. */
export async function ensureTemplateTaskDefs(client: LittleHorseClient, templates: ServedTemplates, signal?: AbortSignal): Promise<Map<string, EnsuredTaskDef>> {
  const ensured = new Map<string, EnsuredTaskDef>();
  for (const [taskDefName, template] of templates) ensured.set(taskDefName, await ensureTaskDef(client, taskDefName, signal, templateTaskDefShape(template)));
  return ensured;
}
