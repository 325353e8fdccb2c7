import { z } from 'zod';
import type { Failure } from './failure.js';

/** A link input: ["<node id>", <output index>]. */
const nodeSchema = z.looseObject({
  class_type: z.string({ error: 'needs a class_type (the node type name, e.g. "KSampler")' }).min(1, 'needs a non-empty class_type'),
  inputs: z.record(z.string(), z.unknown(), { error: 'needs an inputs object' }),
  _meta: z.looseObject({ title: z.string().optional() }).optional(),
});

/** ComfyUI's API-format graph: node id → { class_type, inputs }. */
export const workflowSchema = z
  .record(z.string(), z.unknown())
  .refine((graph) => Object.keys(graph).length > 0, 'is empty: it needs at least one node');

export type WorkflowNode = z.infer<typeof nodeSchema>;
export type Workflow = Record<string, WorkflowNode>;

export type ParsedWorkflow = { ok: true; workflow: Workflow } | { ok: false; failure: Failure };

const invalid = (message: string, problems: string[]): ParsedWorkflow => ({
  ok: false,
  failure: { kind: 'validation', name: 'comfyui-invalid-workflow', message, details: { problems } },
});

/** Parses the task input once, at the edge; every problem is named by its node id and field. */
export function parseWorkflow(input: unknown): ParsedWorkflow {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return invalid('The workflow must be a JSON object of node id → {class_type, inputs} (ComfyUI API format).', []);
  }
  const graph = input as Record<string, unknown>;
  // A frequent mistake: the UI's "Save" format instead of "Save (API Format)".
  if (Array.isArray(graph.nodes) && Array.isArray(graph.links)) {
    return invalid(
      'This is a ComfyUI UI-format workflow (it has "nodes" and "links"); export it with "Save (API Format)" and send that instead.',
      [],
    );
  }
  // A wrapped body as sent to POST /prompt.
  if ('prompt' in graph && typeof graph.prompt === 'object' && graph.prompt !== null && !('class_type' in graph.prompt)) {
    return parseWorkflow(graph.prompt);
  }
  const top = workflowSchema.safeParse(graph);
  if (!top.success) return invalid(`The workflow ${top.error.issues[0]?.message ?? 'is invalid'}.`, []);

  const problems: string[] = [];
  const workflow: Workflow = {};
  for (const [id, node] of Object.entries(graph)) {
    const parsed = nodeSchema.safeParse(node);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.length > 0 ? `.${issue.path.join('.')}` : '';
        problems.push(`node "${id}"${field} ${issue.message}`);
      }
      continue;
    }
    workflow[id] = parsed.data;
  }
  if (problems.length > 0) {
    return invalid(`The workflow is not in ComfyUI API format: ${problems.join('; ')}.`, problems);
  }
  return { ok: true, workflow };
}
