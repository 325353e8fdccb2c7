import { AllowedUpdateType, type PutWfSpecRequest, VariableType, WfRunVariableAccessLevel } from 'littlehorse-client/proto';

export const WORKFLOW_VARIABLE = 'workflow';

/** ENTRYPOINT → the task, passed the JSON_OBJ variable `workflow`, with a timeout and retries → EXIT (node names as the Java SDK writes them). */
export function oneTaskWfSpec(name: string, taskName: string, timeoutSeconds: number, retries = 0): PutWfSpecRequest {
  const entrypoint = '0-entrypoint-ENTRYPOINT';
  const task = `1-${taskName}-TASK`;
  const exit = '2-exit-EXIT';
  return {
    name,
    entrypointThreadName: 'entrypoint',
    allowedUpdates: AllowedUpdateType.ALL_UPDATES,
    threadSpecs: {
      entrypoint: {
        variableDefs: [
          {
            varDef: { name: WORKFLOW_VARIABLE, typeDef: { type: VariableType.JSON_OBJ, masked: false } },
            required: true,
            searchable: false,
            jsonIndexes: [],
            accessLevel: WfRunVariableAccessLevel.PRIVATE_VAR,
          },
        ],
        interruptDefs: [],
        nodes: {
          [entrypoint]: { entrypoint: {}, outgoingEdges: [{ sinkNodeName: task, variableMutations: [] }], failureHandlers: [] },
          [task]: {
            task: { taskDefId: { name: taskName }, timeoutSeconds, retries, variables: [{ variableName: WORKFLOW_VARIABLE }] },
            outgoingEdges: [{ sinkNodeName: exit, variableMutations: [] }],
            failureHandlers: [],
          },
          [exit]: { exit: {}, outgoingEdges: [], failureHandlers: [] },
        },
      },
    },
  };
}
