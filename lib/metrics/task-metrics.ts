/** How LittleHorse heard a task end: the ReportTaskRun status, with the exception's name. */
export type TaskEnd = { status: 'success' } | { status: 'exception'; exceptionName: string } | { status: 'failed' };

export interface TaskFinished {
  /** `<wfRunId>/<taskGuid>`, as the worker's logs name it: high cardinality, so never a dimension. */
  taskRunId: string;
  end: TaskEnd;
  /** Whether LittleHorse received the report. */
  delivered: boolean;
  /** From the task's arrival at the worker to its outcome (the report not included). */
  runTimeMs: number;
  /** From the task's arrival to ComfyUI accepting its prompt; undefined when no prompt was submitted. */
  claimToStartMs: number | undefined;
  /** ComfyUI status reads (queue, history) made because the WebSocket was down. */
  socketFallbacks: number;
}

/** TaskRuns of our TaskDef waiting in LittleHorse (lib/littlehorse/backlog.ts). */
export interface Backlog {
  count: number;
  /** Age of the oldest waiting TaskRun; undefined when none waits. */
  oldestAgeMs: number | undefined;
}

/**
 * What the runner tells about the fleet's work, whatever the metrics backend: EMF lines
 * (./emf.ts) or nothing (`noMetrics`). One call per task at most, plus rare state changes.
 */
export interface TaskMetrics {
  taskFinished(task: TaskFinished): void;
  comfyUiUp(up: boolean): void;
  backlog(backlog: Backlog): void;
}

export const noMetrics: TaskMetrics = {
  taskFinished: () => {},
  comfyUiUp: () => {},
  backlog: () => {},
};
