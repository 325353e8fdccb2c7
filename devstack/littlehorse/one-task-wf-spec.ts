import { AllowedUpdateType, type PutWfSpecRequest, type TaskDef, VariableType, WfRunVariableAccessLevel } from 'littlehorse-client/proto';

export const WORKFLOW_VARIABLE = 'workflow';

/** A WfRun variable the task node passes to the TaskDef, in order. */
export interface WfVariable {
  name: string;
  type: VariableType;
  required?: boolean;
}

/** One WfRun variable per TaskDef input, of its type, in its order; those named in `required` must be given to RunWf. */
export function wfVariablesOf(taskDef: TaskDef, required: string[] = []): WfVariable[] {
  return taskDef.inputVars.map((v) => ({ name: v.name, type: v.typeDef?.type ?? VariableType.JSON_OBJ, required: required.includes(v.name) }));
}

/** ENTRYPOINT → the task, passed the JSON_OBJ variable `workflow`, with a timeout and retries → EXIT (node names as the Java SDK writes them). */
export function oneTaskWfSpec(name: string, taskName: string, timeoutSeconds: number, retries = 0): PutWfSpecRequest {
  return typedOneTaskWfSpec(name, taskName, [{ name: WORKFLOW_VARIABLE, type: VariableType.JSON_OBJ, required: true }], { timeoutSeconds, retries });
}

/** ENTRYPOINT → the task, passed each typed WfRun variable in turn (a template's TaskDef), with a timeout and retries → EXIT. */
export function typedOneTaskWfSpec(name: string, taskName: string, variables: WfVariable[], options: { timeoutSeconds: number; retries: number }): PutWfSpecRequest {
  const entrypoint = '0-entrypoint-ENTRYPOINT';
  const task = `1-${taskName}-TASK`;
  const exit = '2-exit-EXIT';
  return {
    name,
    entrypointThreadName: 'entrypoint',
    allowedUpdates: AllowedUpdateType.ALL_UPDATES,
    threadSpecs: {
      entrypoint: {
        variableDefs: variables.map((v) => ({
          varDef: { name: v.name, typeDef: { type: v.type, masked: false } },
          required: v.required ?? false,
          searchable: false,
          jsonIndexes: [],
          accessLevel: WfRunVariableAccessLevel.PRIVATE_VAR,
        })),
        interruptDefs: [],
        nodes: {
          [entrypoint]: { entrypoint: {}, outgoingEdges: [{ sinkNodeName: task, variableMutations: [] }], failureHandlers: [] },
          [task]: {
            task: { taskDefId: { name: taskName }, timeoutSeconds: options.timeoutSeconds, retries: options.retries, variables: variables.map((v) => ({ variableName: v.name })) },
            outgoingEdges: [{ sinkNodeName: exit, variableMutations: [] }],
            failureHandlers: [],
          },
          [exit]: { exit: {}, outgoingEdges: [], failureHandlers: [] },
        },
      },
    },
  };
}
