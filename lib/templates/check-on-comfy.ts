import { checkTemplateOnComfy } from '../../functions/templates/comfy-check.js';
import type { Template } from '../../functions/templates/template.js';
import type { ComfyClient } from '../comfyui/client.js';
import type { ServedTemplates } from './load.js';

export type CheckedTemplates = { ok: true; templates: ServedTemplates } | { ok: false; problems: string[] };

/**
 * Checks every template against the ComfyUI it will run on (one GET /object_info), before any task is
 * taken. A template that cannot run there is refused by name with each reason; the rest come back
 * with their input bounds narrowed to ComfyUI's.
 */
export async function checkTemplatesOnComfy(templates: ServedTemplates, comfy: Pick<ComfyClient, 'objectInfo'>, signal?: AbortSignal): Promise<CheckedTemplates> {
  if (templates.size === 0) return { ok: true, templates };
  const info = await comfy.objectInfo(signal);
  const checked = new Map<string, Template>();
  const problems: string[] = [];
  for (const [taskDefName, template] of templates) {
    const result = checkTemplateOnComfy(template, info);
    if (result.ok) checked.set(taskDefName, result.template);
    else problems.push(...result.problems.map((problem) => `template ${template.name} (${template.file}) cannot run on this ComfyUI: ${problem}`));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, templates: checked };
}
