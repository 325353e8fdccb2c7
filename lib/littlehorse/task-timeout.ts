import { ClientError, Status } from 'nice-grpc';
import type { ScheduledTask, WfSpec } from 'littlehorse-client/proto';
import type { StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import type { LittleHorseClient } from './connection.js';

/** LittleHorse's TaskRun timeout when the task node sets none (TaskNodeModel, LHConstants). */
export const DEFAULT_TASK_TIMEOUT_SEC = 60;

/**
 * A task's TaskRun timeout, which the ScheduledTask does not carry. It is the task node's
 * `timeoutSeconds` (TaskNodeModel copies it to the TaskRun), and a WfSpec version is immutable, so
 * it is learnt once per WfSpec version with GetWfSpec: when every TASK node of that WfSpec that
 * calls our TaskDef has the same timeout, that is the answer for all its tasks, with no call per
 * task. Otherwise (two nodes with different timeouts, a dynamic task, a user-task trigger, no
 * WfSpec) it is read per task with GetTaskRun, as before.
 */
export class TaskTimeouts {
  private readonly byWfSpec = new Map<string, Promise<number | undefined>>();

  constructor(
    private readonly client: () => LittleHorseClient,
    private readonly logger: StructuredLog,
  ) {}

  async secondsFor(task: ScheduledTask, signal: AbortSignal): Promise<number> {
    const wfSpecId = task.source?.wfSpecId;
    const taskDefName = task.taskDefId?.name;
    if (wfSpecId && taskDefName && task.source?.taskNode) {
      const key = `${wfSpecId.name}/${wfSpecId.majorVersion}/${wfSpecId.revision}/${taskDefName}`;
      let cached = this.byWfSpec.get(key);
      if (!cached) {
        cached = this.client()
          .getWfSpec(wfSpecId, { signal })
          .then((spec) => sharedTimeout(spec, taskDefName))
          .catch((error: unknown) => {
            // Versions are immutable: one that is not found stays so. Any other failure is no answer: ask again next time.
            if (!(error instanceof ClientError && error.code === Status.NOT_FOUND)) this.byWfSpec.delete(key);
            return undefined;
          });
        this.byWfSpec.set(key, cached);
      }
      const shared = await cached;
      if (shared !== undefined) return shared;
    }
    return this.fromTaskRun(task, signal);
  }

  private async fromTaskRun(task: ScheduledTask, signal: AbortSignal): Promise<number> {
    if (!task.taskRunId) return DEFAULT_TASK_TIMEOUT_SEC;
    try {
      const taskRun = await this.client().getTaskRun(task.taskRunId, { signal });
      return taskRun.timeoutSeconds > 0 ? taskRun.timeoutSeconds : DEFAULT_TASK_TIMEOUT_SEC;
    } catch (error) {
      this.logger.warn(`GetTaskRun failed; assuming LittleHorse's default ${DEFAULT_TASK_TIMEOUT_SEC} s TaskRun timeout`, {
        event: 'timeout-unknown',
        error: (error as Error).message,
      });
      return DEFAULT_TASK_TIMEOUT_SEC;
    }
  }
}

/** The one timeout every TASK node calling `taskDefName` has, or undefined when they differ or one is dynamic. */
export function sharedTimeout(spec: WfSpec, taskDefName: string): number | undefined {
  const timeouts = new Set<number>();
  for (const thread of Object.values(spec.threadSpecs)) {
    for (const node of Object.values(thread.nodes)) {
      const task = node.task;
      if (!task) continue;
      if (task.dynamicTask) return undefined; // it may resolve to our TaskDef, with its own timeout
      if (task.taskDefId?.name !== taskDefName) continue;
      timeouts.add(task.timeoutSeconds > 0 ? task.timeoutSeconds : DEFAULT_TASK_TIMEOUT_SEC);
    }
  }
  return timeouts.size === 1 ? [...timeouts][0] : undefined;
}
