import { ClientError, Status } from 'nice-grpc';
import { type TaskDef, VariableType } from 'littlehorse-client/proto';
import { sleep } from '../backoff.js';
import type { LittleHorseClient } from './connection.js';

/** The TaskDef's single input: the workflow in ComfyUI API format. */
export const WORKFLOW_INPUT = 'workflow';

export class TaskDefMismatch extends Error {
  override name = 'TaskDefMismatch';
}

export interface EnsuredTaskDef {
  taskDef: TaskDef;
  /** True when this call created it; false when it was there already (another worker may have just made it). */
  created: boolean;
}

/**
 * Makes sure the TaskDef exists with our shape: one JSON_OBJ input named `workflow`, a JSON_OBJ
 * result. Creates it when missing; accepts an existing one of that shape; refuses any other.
 */
export async function ensureTaskDef(client: LittleHorseClient, name: string, signal?: AbortSignal): Promise<EnsuredTaskDef> {
  const existing = await getTaskDef(client, name, signal);
  if (existing) return { taskDef: checkShape(existing), created: false };
  let created = true;
  try {
    await client.putTaskDef(
      {
        name,
        inputVars: [{ name: WORKFLOW_INPUT, typeDef: { type: VariableType.JSON_OBJ, masked: false } }],
        returnType: { returnType: { type: VariableType.JSON_OBJ, masked: false } },
      },
      { signal },
    );
  } catch (error) {
    // Another worker created it first (ALREADY_EXISTS when its shape differs from ours): check below.
    if (!(error instanceof ClientError && error.code === Status.ALREADY_EXISTS)) throw error;
    created = false;
  }
  // Metadata is written asynchronously: a read right after PutTaskDef can briefly miss
  // (Java's LHTaskWorker.getTaskDefOrFail retries NOT_FOUND for 2 s).
  for (let waited = 0; waited <= 2_000; waited += 50) {
    const written = await getTaskDef(client, name, signal);
    if (written) return { taskDef: checkShape(written), created };
    await sleep(50, signal);
  }
  throw new Error(`TaskDef ${name} was created but cannot be read back from LittleHorse`);
}

async function getTaskDef(client: LittleHorseClient, name: string, signal?: AbortSignal): Promise<TaskDef | undefined> {
  try {
    return await client.getTaskDef({ name }, { signal });
  } catch (error) {
    if (error instanceof ClientError && error.code === Status.NOT_FOUND) return undefined;
    throw error;
  }
}

function checkShape(taskDef: TaskDef): TaskDef {
  const name = taskDef.id?.name ?? '?';
  const inputs = taskDef.inputVars.map((v) => `${v.name}: ${v.typeDef?.type ?? v.type ?? VariableType.JSON_OBJ}`);
  const [only] = taskDef.inputVars;
  const type = only?.typeDef?.type ?? only?.type ?? VariableType.JSON_OBJ;
  if (taskDef.inputVars.length !== 1 || only?.name !== WORKFLOW_INPUT || type !== VariableType.JSON_OBJ) {
    throw new TaskDefMismatch(
      `TaskDef ${name} already exists with inputs (${inputs.join(', ') || 'none'}), but this worker needs exactly one input ` +
        `"${WORKFLOW_INPUT}: JSON_OBJ". Delete the TaskDef (lhctl delete taskDef ${name}) or set LHW_TASK_NAME to another name.`,
    );
  }
  return taskDef;
}
