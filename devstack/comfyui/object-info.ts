// GET /object_info and /object_info/{class}, modelled on server.py `node_info`: the same catalogue
// (nodes.ts) the simulator validates prompts with, each widget with its options and range (widgets.ts).
import { readdirSync } from 'node:fs';
import { NODE_DEFS, type NodeDef } from './nodes.js';
import { WIDGETS, type WidgetSpec } from './widgets.js';

/**
 * Every class, or just `only` (`{}` for a class ComfyUI does not have: 200, not 404). LoadImage's
 * list is the input folder's files, read on each request as ComfyUI does (folder_paths).
 */
export function objectInfo(inputDir: string, only?: string): Record<string, unknown> {
  const entries = Object.entries(NODE_DEFS).filter(([name]) => only === undefined || name === only);
  return Object.fromEntries(entries.map(([name, def]) => [name, nodeInfo(name, def, () => inputFiles(inputDir))]));
}

function nodeInfo(name: string, def: NodeDef, inputFiles: () => string[]): Record<string, unknown> {
  const widgets = WIDGETS[name] ?? {};
  const asSpec = (inputs: Record<string, string>) =>
    Object.fromEntries(Object.entries(inputs).map(([input, type]) => [input, inputSpec(type, widgets[input], inputFiles)]));
  return {
    input: { required: asSpec(def.required), ...(def.optional ? { optional: asSpec(def.optional) } : {}) },
    input_order: { required: Object.keys(def.required), ...(def.optional ? { optional: Object.keys(def.optional) } : {}) },
    output: def.returns,
    output_is_list: def.returns.map(() => false),
    output_name: def.returns,
    name,
    display_name: def.displayName ?? name,
    description: '',
    python_module: name.startsWith('VHS_') || name === 'MyCustomSaver' ? `custom_nodes.${name}` : 'nodes',
    category: def.category,
    output_node: def.output !== undefined,
  };
}

/** INPUT_TYPES as JSON: [type, config], a combo as [[…values], config] (nodes.py's classic nodes). */
function inputSpec(type: string, widget: WidgetSpec | undefined, inputFiles: () => string[]): unknown[] {
  if (!widget) return [type, {}];
  const { options, ...config } = widget;
  if (options !== undefined) return [options === 'input-files' ? inputFiles() : [...options], options === 'input-files' ? { image_upload: true } : {}];
  return [type, config];
}

function inputFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
}
