/**
 * Errors are values with a kind; each kind maps to one LittleHorse outcome:
 * - validation: the user's workflow or a template input is wrong → TASK_EXCEPTION (a business exception the WfSpec can catch)
 * - execution:  ComfyUI ran it and a node failed → TASK_EXCEPTION
 * - unavailable: ComfyUI down, timed out, interrupted, worker stopping → TASK_FAILED (LittleHorse retries)
 *
 * The exception names are the ones a WfSpec routes on: a node class this ComfyUI does not have, a model
 * file it does not list, running out of memory, and everything else a workflow can get wrong.
 */
export type ValidationName = 'comfyui-invalid-workflow' | 'comfyui-invalid-input' | 'comfyui-missing-node' | 'comfyui-missing-model';
export type ExecutionName = 'comfyui-execution-error' | 'comfyui-out-of-memory' | 'comfyui-unsafe-output';

export type Failure =
  | { kind: 'validation'; name: ValidationName; message: string; details: unknown }
  | { kind: 'execution'; name: ExecutionName; message: string; details: unknown }
  /** `cause`: the error behind an unexpected failure, for the worker's log only (never reported). */
  | { kind: 'unavailable'; message: string; details?: unknown; cause?: unknown };

/** Carries a Failure through code that throws (HTTP adapters), to be turned back into a value. */
export class FailureError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = 'FailureError';
  }
}

export const unavailable = (message: string, details?: unknown): Failure => ({ kind: 'unavailable', message, details });

/** Why the work was stopped (deadline, shutdown): the abort reason as a retryable failure. */
export function stoppedBy(reason: unknown): Failure {
  return unavailable(reason instanceof Error ? reason.message : String(reason));
}

/**
 * Any thrown value as a Failure: known failures keep their kind; anything else is a bug or an
 * environment nobody planned for, reported as unexpected (retryable) with the error kept as `cause`.
 */
export function toFailure(error: unknown): Failure {
  if (error instanceof FailureError) return error.failure;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    kind: 'unavailable',
    message: `Unexpected error in comfyui-worker (${detail}); the worker's log has the stack. LittleHorse may retry the task.`,
    details: { unexpected: true },
    cause: error,
  };
}

/** One of ComfyUI's validation errors (execution.py validate_inputs: type, message, details, extra_info). */
export interface NodeProblem {
  type: string | null;
  message: string | null;
  details: unknown;
  extra_info?: unknown;
}

/** A node ComfyUI refused, with every reason it gave. */
export interface InvalidNode {
  node_id: string;
  class_type: string | null;
  errors: NodeProblem[];
  /** The output nodes that depend on it, and so were left out. */
  dependent_outputs: string[];
}

/** The top-level `error` of a POST /prompt answer. */
export interface PromptError {
  type: string | null;
  message: string;
  details: unknown;
}

// execution.py validate_prompt: "Cannot execute because node {class_type} does not exist."; newer
// versions may name the type `missing_node_type`.
const MISSING_NODE = /Cannot execute because node (.+) does not exist\./;
const NODE_ID = /Node ID '#(.+)'/;
// Model files by their extension, for a loader-like node whose class name does not say "Loader".
const MODEL_FILE = /\.(safetensors|ckpt|pt|pth|bin|gguf|onnx|sft)$/i;

/**
 * ComfyUI's refusal of a graph (a 400, or the invalid part of a 200) as the business exception a
 * WfSpec can route on: `comfyui-missing-node` for a class ComfyUI does not have (a custom node not
 * installed), `comfyui-missing-model` when every refused value is a model file ComfyUI does not list
 * (a loader's `value_not_in_list`), `comfyui-invalid-workflow` for the rest.
 */
export function validationFailure(error: PromptError, nodes: InvalidNode[], headline = 'ComfyUI rejected the workflow'): Failure {
  const perNode = nodes.flatMap((node) =>
    node.errors.map((e) => `node ${node.node_id} (${node.class_type ?? 'unknown class'}): ${[e.message, typeof e.details === 'string' ? e.details : undefined].filter(Boolean).join(': ')}`),
  );
  const message = `${headline}: ${[error.message, ...perNode].join('; ')}`;
  const details = { error, node_errors: nodes };

  const missingClass = MISSING_NODE.exec(error.message)?.[1];
  if (error.type === 'missing_node_type' || missingClass !== undefined) {
    const nodeId = typeof error.details === 'string' ? (NODE_ID.exec(error.details)?.[1] ?? null) : null;
    return { kind: 'validation', name: 'comfyui-missing-node', message, details: { ...details, missing: { node_id: nodeId, class_type: missingClass ?? null } } };
  }
  const problems = nodes.flatMap((node) => node.errors.map((e) => ({ node, error: e })));
  const models = problems.filter(({ node, error: e }) => isMissingModel(node, e));
  if (models.length > 0 && models.length === problems.length) {
    const missing = models.map(({ node, error: e }) => ({
      node_id: node.node_id,
      class_type: node.class_type,
      input_name: inputName(e),
      value: receivedValue(e),
    }));
    return { kind: 'validation', name: 'comfyui-missing-model', message, details: { ...details, missing } };
  }
  return { kind: 'validation', name: 'comfyui-invalid-workflow', message, details };
}

function isMissingModel(node: InvalidNode, error: NodeProblem): boolean {
  if (error.type !== 'value_not_in_list') return false;
  const value = receivedValue(error);
  return (node.class_type ?? '').includes('Loader') || (typeof value === 'string' && MODEL_FILE.test(value));
}

const extra = (error: NodeProblem): Record<string, unknown> =>
  typeof error.extra_info === 'object' && error.extra_info !== null ? (error.extra_info as Record<string, unknown>) : {};
const inputName = (error: NodeProblem): string | null => {
  const name = extra(error).input_name;
  return typeof name === 'string' ? name : null;
};
const receivedValue = (error: NodeProblem): unknown => extra(error).received_value ?? null;

/** What ComfyUI's `execution_error` carries (execution.py handle_execution_error). */
export interface NodeExecutionError {
  prompt_id?: string;
  node_id?: string;
  node_type?: string;
  exception_type?: string;
  exception_message?: string;
}

// torch.OutOfMemoryError, torch.cuda.OutOfMemoryError, Python's own MemoryError (host RAM).
const OUT_OF_MEMORY = /(^|\.)(OutOfMemoryError|MemoryError)$/;

/**
 * A node that failed while running: `comfyui-out-of-memory` when the exception is an out-of-memory
 * error (a WfSpec can retry smaller or route to a bigger GPU), `comfyui-execution-error` otherwise.
 */
export function nodeFailure(data: NodeExecutionError): Failure {
  const node = `${data.node_id ?? '?'} (${data.node_type ?? 'unknown type'})`;
  const outOfMemory = OUT_OF_MEMORY.test(data.exception_type ?? '');
  return {
    kind: 'execution',
    name: outOfMemory ? 'comfyui-out-of-memory' : 'comfyui-execution-error',
    message: `Node ${node} ${outOfMemory ? 'ran out of memory' : 'failed'}: ${data.exception_type ?? 'Exception'}: ${data.exception_message?.trim() ?? 'no message'}`,
    details: {
      prompt_id: data.prompt_id,
      node_id: data.node_id ?? null,
      node_type: data.node_type ?? null,
      exception_type: data.exception_type ?? null,
      exception_message: data.exception_message ?? null,
    },
  };
}
