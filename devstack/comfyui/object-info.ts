// GET /object_info and /object_info/{class}, modelled on server.py `node_info`: the same catalogue
// (nodes.ts) the simulator validates prompts with, each widget with its range or option list.
import { readdirSync } from 'node:fs';
import { NODE_DEFS, nodeInfo } from './nodes.js';

/**
 * Every class, or just `only` (`{}` for a class ComfyUI does not have: 200, not 404). LoadImage's
 * list is the input folder's files, read on each request as ComfyUI does (folder_paths).
 */
export function objectInfo(inputDir: string, only?: string): Record<string, unknown> {
  const entries = Object.entries(NODE_DEFS).filter(([name]) => only === undefined || name === only);
  return Object.fromEntries(
    entries.map(([name, def]) => {
      const info = nodeInfo(name, def) as { input: { required: Record<string, unknown> } };
      if (name === 'LoadImage') info.input.required.image = [inputFiles(inputDir), { image_upload: true }];
      return [name, info];
    }),
  );
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
