// A WfSpec of one task node that passes typed WfRun variables to a TaskDef, in order: the shape the
// LittleHorse double runs, written the way the SDKs write it (node names as the Java SDK does).
import { AllowedUpdateType, type PutWfSpecRequest, type VariableType, WfRunVariableAccessLevel } from 'littlehorse-client/proto';

export interface WfVariable {
  name: string;
  type: VariableType;
  required?: boolean;
}

/** ENTRYPOINT → the task, passed each variable in turn, with a timeout and retries → EXIT. */
export function oneTaskWfSpec(name: string, taskDefName: string, variables: WfVariable[], options: { timeoutSeconds: number; retries: number }): PutWfSpecRequest {
  const entrypoint = '0-entrypoint-ENTRYPOINT';
  const task = `1-${taskDefName}-TASK`;
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
            task: { taskDefId: { name: taskDefName }, timeoutSeconds: options.timeoutSeconds, retries: options.retries, variables: variables.map((v) => ({ variableName: v.name })) },
            outgoingEdges: [{ sinkNodeName: exit, variableMutations: [] }],
            failureHandlers: [],
          },
          [exit]: { exit: {}, outgoingEdges: [], failureHandlers: [] },
        },
      },
    },
  };
}
