import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Recording } from './comfy-transcript.js';

const WORKFLOWS = path.resolve(import.meta.dirname, '../comfyui-real/workflows');

/** A graph of test/comfyui-real/workflows with fresh EmptyImage colours, so ComfyUI's cache does not skip it. */
export function freshGraph(name: string, fresh = true): Record<string, { class_type: string; inputs: Record<string, unknown> }> {
  const graph = JSON.parse(readFileSync(path.join(WORKFLOWS, `${name}.json`), 'utf8')) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  if (fresh) for (const node of Object.values(graph)) if (node.class_type === 'EmptyImage') node.inputs.color = Math.floor(Math.random() * 0xffffff);
  return graph;
}

/** The prompts recorded on the real server (npm run test:comfyui) and on the simulator (npm test), by name. */
export const CONFORMANCE_RECORDINGS: Record<string, () => Recording> = {
  ok: () => ({ graph: freshGraph('ok') }),
  execerr: () => ({ graph: freshGraph('execerr') }),
  invalid: () => ({ graph: freshGraph('invalid', false) }),
  'no-outputs': () => ({ graph: freshGraph('no-output-node', false) }),
  partial: () => ({ graph: freshGraph('one-output-invalid') }),
  // Node 2 (a blur of a 512×512 image) takes seconds on CPU: the interrupt lands while it runs.
  interrupt: () => ({ graph: freshGraph('long'), interruptAtNode: '2' }),
  cached: () => ({ graph: freshGraph('ok'), warmUp: true }),
};
