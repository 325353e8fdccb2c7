import { ClientError, Status } from 'nice-grpc';
import { type TaskDef, VariableType } from 'littlehorse-client/proto';
import { sleep } from '../backoff.js';
import type { LittleHorseClient } from './connection.js';

/** The TaskDef's single input: the workflow in ComfyUI API format. */
export const WORKFLOW_INPUT = 'workflow';

export class TaskDefMismatch extends Error {
  override name = 'TaskDefMismatch';
}

/** The TaskDef a worker serves: its input variables in order; every TaskDef here returns a JSON_OBJ. */
export interface TaskDefShape {
  inputs: Array<{ name: string; type: VariableType; masked: boolean }>;
  /** What to do when a TaskDef of that name exists with another shape (it is never overwritten). */
  fix: string;
}

/** The raw-workflow TaskDef: one JSON_OBJ input named `workflow`. */
export const RAW_WORKFLOW_SHAPE: TaskDefShape = {
  inputs: [{ name: WORKFLOW_INPUT, type: VariableType.JSON_OBJ, masked: false }],
  fix: 'or set LHW_TASK_NAME to another name',
};

export interface EnsuredTaskDef {
  taskDef: TaskDef;
  /** True when this call created it; false when it was there already (another worker may have just made it). */
  created: boolean;
}

/**
 * Makes sure the TaskDef exists with our shape (by default one JSON_OBJ input named `workflow`), and a
 * JSON_OBJ result. Creates it when missing; accepts an existing one of that shape; refuses any other.
 */
export async function ensureTaskDef(client: LittleHorseClient, name: string, signal?: AbortSignal, shape: TaskDefShape = RAW_WORKFLOW_SHAPE): Promise<EnsuredTaskDef> {
  const existing = await getTaskDef(client, name, signal);
  if (existing) return { taskDef: checkShape(existing, shape), created: false };
  let created = true;
  try {
    await client.putTaskDef(
      {
        name,
        inputVars: shape.inputs.map((input) => ({ name: input.name, typeDef: { type: input.type, masked: input.masked } })),
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
    if (written) return { taskDef: checkShape(written, shape), created };
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

function checkShape(taskDef: TaskDef, shape: TaskDefShape): TaskDef {
  const mismatch = shapeMismatch(taskDef, shape);
  if (mismatch === undefined) return taskDef;
  const name = taskDef.id?.name ?? '?';
  throw new TaskDefMismatch(
    `TaskDef ${name} already exists with ${mismatch}, but this worker needs ${describeShape(shape)}. ` +
      `It is never overwritten: delete it (lhctl delete taskDef ${name}) ${shape.fix}.`,
  );
}

/**
 * How an existing TaskDef differs from the shape: its inputs (names, types, masking, order) or its
 * return type. Undefined when it matches. A TaskDef without a return type predates LittleHorse 0.13.2
 * and has its output left unchecked: it can serve. One that declares another type (or none: void)
 * would fail every success report on LittleHorse's type check.
 */
export function shapeMismatch(taskDef: TaskDef, shape: TaskDefShape): string | undefined {
  const inputs = taskDef.inputVars.map((v) => ({ name: v.name, type: v.typeDef?.type ?? v.type ?? VariableType.JSON_OBJ, masked: v.typeDef?.masked ?? false }));
  const sameInputs =
    inputs.length === shape.inputs.length &&
    inputs.every((input, i) => input.name === shape.inputs[i]!.name && input.type === shape.inputs[i]!.type && input.masked === shape.inputs[i]!.masked);
  if (!sameInputs) return `inputs (${inputs.map(describeInput).join(', ') || 'none'})`;
  if (taskDef.returnType !== undefined && taskDef.returnType.returnType?.type !== VariableType.JSON_OBJ) {
    return `return type ${taskDef.returnType.returnType?.type ?? 'none (void)'}`;
  }
  return undefined;
}

function describeShape(shape: TaskDefShape): string {
  const inputs = shape.inputs.map(describeInput).join(', ');
  return `${shape.inputs.length === 1 ? 'exactly one input' : 'the inputs'} "${inputs}" and return type JSON_OBJ`;
}

const describeInput = (input: { name: string; type: VariableType; masked: boolean }) => `${input.name}: ${input.type}${input.masked ? ' (masked)' : ''}`;
