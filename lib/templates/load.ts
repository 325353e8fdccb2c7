import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTemplate, type Template, templateTaskDefName } from '../../functions/templates/template.js';

/** The templates a worker serves, by the TaskDef each registers. */
export type ServedTemplates = ReadonlyMap<string, Template>;

export type LoadedTemplates = { ok: true; templates: ServedTemplates } | { ok: false; problems: string[] };

/**
 * Reads every `*.json` in the templates folder once, at start. Every problem of every file is reported
 * at once, each naming the file and the field (the worker then exits 2, as for its configuration).
 */
export function loadTemplates(options: { dir: string | undefined; prefix: string; rawTaskName: string }): LoadedTemplates {
  const templates = new Map<string, Template>();
  if (options.dir === undefined) return { ok: true, templates };
  let files: string[];
  try {
    files = readdirSync(options.dir).filter((file) => file.toLowerCase().endsWith('.json')).sort();
  } catch (error) {
    return { ok: false, problems: [`COMFYUI_TEMPLATES_DIR=${options.dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`] };
  }
  if (files.length === 0) return { ok: false, problems: [`COMFYUI_TEMPLATES_DIR=${options.dir} holds no template (*.json); unset it to serve raw workflows only`] };
  const problems: string[] = [];
  for (const file of files) {
    const where = path.join(options.dir, file);
    let text: string;
    try {
      text = readFileSync(where, 'utf8');
    } catch (error) {
      problems.push(`${where}: cannot be read (${(error as Error).message})`);
      continue;
    }
    const parsed = parseTemplate(where, text);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      continue;
    }
    const taskDefName = templateTaskDefName(parsed.template, options.prefix);
    const clash = taskDefName === options.rawTaskName ? 'LHW_TASK_NAME' : templates.get(taskDefName)?.file;
    if (clash) problems.push(`${where}: registers TaskDef ${taskDefName}, as ${clash} does already; rename the file or set "version"`);
    else templates.set(taskDefName, parsed.template);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, templates };
}
