/**
 * Errors are values with a kind; each kind maps to one LittleHorse outcome:
 * - validation: the user's workflow or a template input is wrong → TASK_EXCEPTION (a business exception the WfSpec can catch)
 * - execution:  ComfyUI ran it and a node failed → TASK_EXCEPTION
 * - unavailable: ComfyUI down, timed out, interrupted, worker stopping → TASK_FAILED (LittleHorse retries)
 */
export type Failure =
  | { kind: 'validation'; name: 'comfyui-invalid-workflow' | 'comfyui-invalid-input'; message: string; details: unknown }
  | { kind: 'execution'; name: 'comfyui-execution-error' | 'comfyui-unsafe-output'; message: string; details: unknown }
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
