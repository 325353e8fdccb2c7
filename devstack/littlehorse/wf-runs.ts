import { randomUUID } from 'node:crypto';
import { ServerError, Status } from 'nice-grpc';
import {
  LHStatus,
  MetadataStatus,
  type NodeRun,
  type NodeRunId,
  type PutWfSpecRequest,
  type RunWfRequest,
  type TaskNode,
  TaskStatus,
  ThreadType,
  type VariableValue,
  type WfRun,
  type WfRunId,
  type WfSpec,
  type WfSpecId,
} from 'littlehorse-client/proto';
import { type FakeTaskRun, type LittleHorseState, RESERVED_EXCEPTION_NAMES } from './state.js';

/** The only shape the double runs: an entrypoint thread of ENTRYPOINT → one TASK node → EXIT. */
interface OneTaskWfSpec {
  spec: WfSpec;
  threadName: string;
  /** Node names by position in the thread. */
  nodeNames: [entrypoint: string, task: string, exit: string];
  task: TaskNode;
}

interface FakeWfRun {
  id: string;
  tenant: string;
  wfSpec: OneTaskWfSpec;
  status: LHStatus;
  startTime: Date;
  endTime?: Date;
  taskRun: FakeTaskRun;
}

const LH_NAME = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;

/**
 * Just enough of LittleHorse's WfSpec / WfRun side to drive a worker the way a real client does
 * (PutWfSpec, RunWf, GetWfRun, GetNodeRun): WfSpecs of one TASK node only. RunWf schedules the TaskRun
 * with the WfRun's variable; the TaskRun's end decides the WfRun's status.
 */
export class WfRunState {
  private readonly wfSpecs = new Map<string, OneTaskWfSpec[]>();
  private readonly wfRuns = new Map<string, FakeWfRun>();

  constructor(private readonly tasks: LittleHorseState) {
    tasks.events.on('done', (taskRun: FakeTaskRun) => this.onTaskRunDone(taskRun));
  }

  /** PutWfSpecRequestModel.process: identical → the stored version; different → a new revision (WfSpecModel.validateAndMaybeBumpVersion). */
  putWfSpec(tenant: string, request: PutWfSpecRequest): WfSpec {
    if (!LH_NAME.test(request.name)) throw new ServerError(Status.INVALID_ARGUMENT, 'WfSpecName must be a valid hostname');
    const key = `${tenant}/${request.name}`;
    const versions = this.wfSpecs.get(key) ?? [];
    const latest = versions.at(-1);
    const content = (spec: { threadSpecs: unknown; entrypointThreadName: string }) => JSON.stringify([spec.threadSpecs, spec.entrypointThreadName]);
    if (latest && content(latest.spec) === content(request)) return latest.spec;
    const id: WfSpecId = { name: request.name, majorVersion: 0, revision: versions.length };
    const parsed = this.oneTaskWfSpec(tenant, request, id);
    this.wfSpecs.set(key, [...versions, parsed]);
    return parsed.spec;
  }

  /** RunWfRequestModel.process: the latest version, required variables present, then the first node runs. */
  runWf(tenant: string, request: RunWfRequest): WfRun {
    const wfSpec = this.wfSpecs.get(`${tenant}/${request.wfSpecName}`)?.at(-1);
    if (!wfSpec) throw new ServerError(Status.INVALID_ARGUMENT, `Couldn't find wfSpec ${request.wfSpecName}`);
    const id = request.id ?? randomUUID().replaceAll('-', '');
    if (this.wfRuns.has(`${tenant}/${id}`)) throw new ServerError(Status.ALREADY_EXISTS, 'WfRun with that id already exists');
    const thread = wfSpec.spec.threadSpecs[wfSpec.threadName]!;
    for (const def of thread.variableDefs) {
      const name = def.varDef?.name ?? '';
      if (def.required && request.variables[name] === undefined) throw new ServerError(Status.INVALID_ARGUMENT, `Must provide required variable ${name}`);
    }
    // The node's variables fill the TaskDef's inputs in order (TaskNodeModel); the double knows names and literals.
    const inputs = this.tasks.getTaskDef(tenant, wfSpec.task.taskDefId!.name).inputVars;
    const variables: Record<string, VariableValue> = {};
    wfSpec.task.variables.forEach((assignment, i) => {
      const value = assignment.variableName !== undefined ? request.variables[assignment.variableName] : assignment.literalValue;
      variables[inputs[i]!.name] = value ?? {};
    });
    const taskRun = this.tasks.schedule({
      taskDefName: wfSpec.task.taskDefId!.name,
      variables,
      wfRunId: id,
      wfSpecId: wfSpec.spec.id,
      timeoutSeconds: wfSpec.task.timeoutSeconds,
      retries: wfSpec.task.retries,
      tenant,
    });
    const wfRun: FakeWfRun = { id, tenant, wfSpec, status: LHStatus.RUNNING, startTime: new Date(), taskRun };
    this.wfRuns.set(`${tenant}/${id}`, wfRun);
    return this.toWfRun(wfRun);
  }

  /** LHServerListener.getWfSpec: a version by name, major version and revision; NOT_FOUND otherwise. */
  getWfSpec(tenant: string, id: WfSpecId): WfSpec {
    const spec = this.wfSpecs.get(`${tenant}/${id.name}`)?.find((v) => v.spec.id?.majorVersion === id.majorVersion && v.spec.id?.revision === id.revision);
    if (!spec) throw new ServerError(Status.NOT_FOUND, `Couldn't find WfSpec ${id.name} ${id.majorVersion}.${id.revision}`);
    return spec.spec;
  }

  getWfRun(tenant: string, id: WfRunId): WfRun {
    return this.toWfRun(this.find(tenant, id));
  }

  /** Positions in the thread: 0 the entrypoint, 1 the task, 2 the exit once reached. */
  getNodeRun(tenant: string, id: NodeRunId): NodeRun {
    const wfRun = this.find(tenant, id.wfRunId);
    const base = {
      id: { wfRunId: { id: wfRun.id }, threadRunNumber: 0, position: id.position },
      wfSpecId: wfRun.wfSpec.spec.id,
      threadSpecName: wfRun.wfSpec.threadName,
      arrivalTime: wfRun.startTime.toISOString(),
      failureHandlerIds: [],
      failures: [],
      nodeName: wfRun.wfSpec.nodeNames[id.position] ?? '',
    };
    if (id.threadRunNumber !== 0 || id.position < 0 || id.position > 2 || (id.position === 2 && wfRun.status !== LHStatus.COMPLETED)) {
      throw new ServerError(Status.NOT_FOUND, `Couldn't find NodeRun ${wfRun.id}/${id.threadRunNumber}/${id.position}`);
    }
    if (id.position === 0) return { ...base, status: LHStatus.COMPLETED, entrypoint: {} };
    if (id.position === 2) return { ...base, status: LHStatus.COMPLETED, exit: {} };
    const failure = failureOf(wfRun.taskRun);
    return {
      ...base,
      status: wfRun.status,
      endTime: wfRun.endTime?.toISOString(),
      task: { taskRunId: wfRun.taskRun.id },
      failures: failure ? [{ ...failure, wasProperlyHandled: false }] : [],
      errorMessage: failure?.message,
    };
  }

  /** The TaskRun decides the WfRun: success → COMPLETED; a business exception → EXCEPTION; anything else → ERROR (FailureModel). */
  private onTaskRunDone(taskRun: FakeTaskRun): void {
    const wfRun = [...this.wfRuns.values()].find((w) => w.taskRun === taskRun);
    if (!wfRun) return;
    const failure = failureOf(taskRun);
    wfRun.status = !failure ? LHStatus.COMPLETED : RESERVED_EXCEPTION_NAMES.has(failure.failureName) ? LHStatus.ERROR : LHStatus.EXCEPTION;
    wfRun.endTime = new Date();
  }

  private find(tenant: string, id: WfRunId | undefined): FakeWfRun {
    const wfRun = this.wfRuns.get(`${tenant}/${id?.id}`);
    if (!wfRun) throw new ServerError(Status.NOT_FOUND, `Couldn't find WfRun ${id?.id}`);
    return wfRun;
  }

  private toWfRun(wfRun: FakeWfRun): WfRun {
    const failure = failureOf(wfRun.taskRun);
    return {
      id: { id: wfRun.id },
      wfSpecId: wfRun.wfSpec.spec.id,
      oldWfSpecVersions: [],
      status: wfRun.status,
      greatestThreadrunNumber: 0,
      startTime: wfRun.startTime.toISOString(),
      endTime: wfRun.endTime?.toISOString(),
      threadRuns: [
        {
          wfSpecId: wfRun.wfSpec.spec.id,
          number: 0,
          status: wfRun.status,
          threadSpecName: wfRun.wfSpec.threadName,
          startTime: wfRun.startTime.toISOString(),
          endTime: wfRun.endTime?.toISOString(),
          errorMessage: wfRun.endTime ? failure?.message : undefined,
          childThreadIds: [],
          haltReasons: [],
          handledFailedChildren: [],
          currentNodePosition: wfRun.status === LHStatus.COMPLETED ? 2 : 1,
          type: ThreadType.ENTRYPOINT,
        },
      ],
      pendingInterrupts: [],
      pendingFailures: [],
    };
  }

  /** Refuses, clearly, any WfSpec the double cannot run; checks what the real server checks for it. */
  private oneTaskWfSpec(tenant: string, request: PutWfSpecRequest, id: WfSpecId): OneTaskWfSpec {
    const unsupported = (why: string) =>
      new ServerError(Status.INVALID_ARGUMENT, `the LittleHorse double runs only WfSpecs of ENTRYPOINT → one TASK → EXIT: ${why}`);
    const threadName = request.entrypointThreadName;
    const thread = request.threadSpecs[threadName];
    if (!thread) throw new ServerError(Status.INVALID_ARGUMENT, `Entrypoint thread ${threadName} is not defined`);
    if (Object.keys(request.threadSpecs).length !== 1) throw unsupported('more than one thread');
    const nodes = Object.entries(thread.nodes);
    const named = (kind: 'entrypoint' | 'task' | 'exit') => nodes.filter(([, node]) => node[kind]).map(([name]) => name);
    const [entrypoints, taskNodes, exits] = [named('entrypoint'), named('task'), named('exit')];
    if (nodes.length !== 3 || entrypoints.length !== 1 || taskNodes.length !== 1 || exits.length !== 1) {
      throw unsupported(`nodes ${nodes.map(([name]) => name).join(', ')}`);
    }
    const nodeNames: OneTaskWfSpec['nodeNames'] = [entrypoints[0]!, taskNodes[0]!, exits[0]!];
    const taskNodeName = nodeNames[1];
    const task = thread.nodes[taskNodeName]!.task!;
    const taskDefName = task.taskDefId?.name;
    if (!taskDefName) throw unsupported('a dynamic task');
    // TaskNodeModel.validate: the TaskDef must exist and take as many variables as the node passes.
    const inputs = this.tasks.taskDefs.get(`${tenant}/${taskDefName}`)?.inputVars;
    if (!inputs) throw new ServerError(Status.INVALID_ARGUMENT, `Node ${taskNodeName} refers to TaskDef ${taskDefName}, which does not exist`);
    if (inputs.length !== task.variables.length) throw new ServerError(Status.INVALID_ARGUMENT, `Node ${taskNodeName} passes ${task.variables.length} variables to TaskDef ${taskDefName}, which takes ${inputs.length}`);
    const declared = new Set(thread.variableDefs.map((d) => d.varDef?.name));
    for (const assignment of task.variables) {
      if (assignment.variableName === undefined && assignment.literalValue === undefined) throw unsupported('a task input that is neither a variable nor a literal');
      if (assignment.variableName !== undefined && !declared.has(assignment.variableName)) {
        throw new ServerError(Status.INVALID_ARGUMENT, `Node ${taskNodeName} refers to undeclared variable ${assignment.variableName}`);
      }
    }
    const spec: WfSpec = {
      id,
      createdAt: new Date().toISOString(),
      frozenVariables: [],
      status: MetadataStatus.ACTIVE,
      threadSpecs: request.threadSpecs,
      entrypointThreadName: threadName,
      retentionPolicy: request.retentionPolicy,
    };
    return { spec, threadName, nodeNames, task };
  }
}

/** TaskAttemptModel.getFailureCode: what the last attempt's end becomes on the NodeRun. */
function failureOf(taskRun: FakeTaskRun): { failureName: string; message: string; content?: VariableValue } | undefined {
  const attempt = taskRun.attempts.at(-1);
  switch (taskRun.status) {
    case TaskStatus.TASK_EXCEPTION:
      return { failureName: attempt?.exception?.name ?? '', message: attempt?.exception?.message ?? '', content: attempt?.exception?.content };
    case TaskStatus.TASK_FAILED:
      return { failureName: 'TASK_FAILURE', message: attempt?.error?.message ?? 'Task failed' };
    case TaskStatus.TASK_TIMEOUT:
      return { failureName: 'TIMEOUT', message: 'Task timed out' };
    case TaskStatus.TASK_OUTPUT_SERDE_ERROR:
      return { failureName: 'VAR_MUTATION_ERROR', message: attempt?.error?.message ?? 'Task output could not be serialized' };
    case TaskStatus.TASK_INPUT_VAR_SUB_ERROR:
      return { failureName: 'VAR_SUB_ERROR', message: attempt?.error?.message ?? 'Task input could not be substituted' };
    default:
      return undefined;
  }
}
