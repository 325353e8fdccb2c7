import type { Workflow } from './workflow.js';

/**
 * A folder name of the TaskRun's own: its idempotency key (WfRun chain + task guid, the same for every
 * attempt) with anything but letters, digits, dot, dash and underscore turned into "_".
 */
export function taskOutputFolder(idempotencyKey: string): string {
  return `task-${idempotencyKey.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

/**
 * The workflow with every output node's `filename_prefix` moved into the task's own subfolder
 * ("realtest/cap" → "<folder>/realtest/cap"), so each task writes and reports files of its own.
 * ComfyUI caches by inputs: the output nodes (whose prefix changed) run again for a new task, the
 * rest of the graph stays cached. A prefix that is a link to another node is left alone.
 */
export function withTaskOutputFolder(workflow: Workflow, folder: string): Workflow {
  return Object.fromEntries(
    Object.entries(workflow).map(([id, node]) => {
      const prefix = node.inputs.filename_prefix;
      if (typeof prefix !== 'string') return [id, node];
      return [id, { ...node, inputs: { ...node.inputs, filename_prefix: `${folder}/${prefix}` } }];
    }),
  );
}
