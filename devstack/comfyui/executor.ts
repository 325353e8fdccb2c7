// One prompt's execution and its socket messages, modelled on execution.py `PromptExecutor.execute_async`
// and `execute`, comfy_execution/progress.py (progress_state) and main.py `hijack_progress` (progress).
import { NODE_DEFS, isSampler } from './nodes.js';
import { writeOutputs, type OutputDirs } from './outputs.js';
import type { SocketHub } from './socket.js';
import { PyError, type ApiPrompt, type JsonObject, type NodeMeta, type QueueItem, type RunResult, type RunScript, type StatusMessage } from './types.js';

export interface ExecContext {
  hub: SocketHub;
  dirs: OutputDirs;
  steps: number;
  runTimeMs: number;
  sendExecutionSuccess: boolean;
  hostileFilenames(): boolean;
  /** nodes.interrupt_processing(): the flag the running node checks */
  interrupted(): boolean;
  setInterrupted(value: boolean): void;
  /** server.client_id / server.last_node_id */
  setCurrent(clientId: string | null, lastNodeId: string | null): void;
  /** resolves after ms; rejects with Aborted once the fake "restarted" */
  sleep(ms: number): Promise<void>;
}

export class Aborted extends Error {}
class Interrupted extends Error {
  constructor(readonly nodeId: string) {
    super('Processing interrupted');
  }
}
class NodeFailure extends Error {
  constructor(
    readonly nodeId: string,
    readonly pyType: string,
    readonly pyMessage: string,
  ) {
    super(pyMessage);
  }
}

/** Nodes the outputs need, dependencies first (comfy_execution/graph.py ExecutionList, simplified). */
export function executionOrder(prompt: ApiPrompt, outputs: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id) || !prompt[id]) return;
    seen.add(id);
    for (const v of Object.values(prompt[id].inputs)) if (Array.isArray(v) && typeof v[0] === 'string') visit(v[0]);
    order.push(id);
  };
  outputs.forEach(visit);
  return order;
}

const fakeTraceback = (classType: string): string[] => [
  '  File "/ComfyUI/execution.py", line 496, in execute\n    output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(...)\n',
  '  File "/ComfyUI/execution.py", line 277, in process_inputs\n    result = f(**inputs)\n',
  `  File "/ComfyUI/nodes.py", line 1525, in ${classType}\n    (fake ComfyUI double: scripted failure)\n`,
];

export async function executePrompt(ctx: ExecContext, item: QueueItem, script: RunScript): Promise<RunResult> {
  const [, promptId, prompt, extra, toExecute] = item;
  const clientId = typeof extra.client_id === 'string' ? extra.client_id : null;
  const { hub } = ctx;
  ctx.setInterrupted(false);
  ctx.setCurrent(clientId, null);
  const messages: StatusMessage[] = [];
  // add_message: recorded for history; sent only with a client id, unless `broadcast` (then to all)
  const add = (event: string, data: JsonObject, broadcast = false) => {
    const stamped = { ...data, timestamp: Date.now() };
    messages.push([event, stamped]);
    if (clientId !== null || broadcast) hub.send(event, stamped, clientId);
  };
  const toClient = (event: string, data: JsonObject) => {
    if (clientId !== null) hub.send(event, data, clientId);
  };
  // progress, progress_state and previews are sent to client_id unguarded: broadcast when it is None
  const progress: Record<string, { value: number; max: number; state: string }> = {};
  const sendProgressState = () => {
    const nodes = Object.fromEntries(
      Object.entries(progress).map(([id, s]) => [
        id,
        { ...s, node_id: id, prompt_id: promptId, display_node_id: id, parent_node_id: null, real_node_id: id },
      ]),
    );
    hub.send('progress_state', { prompt_id: promptId, nodes }, clientId);
  };
  const setProgress = (id: string, state: string, value: number, max: number) => {
    progress[id] = { value, max, state };
    sendProgressState();
  };

  const outputs: Record<string, JsonObject> = {};
  const meta: Record<string, NodeMeta> = {};
  const executed: string[] = [];
  const order = executionOrder(prompt, toExecute);
  const runOutput = async (id: string) => {
    const node = prompt[id];
    const kind = node ? NODE_DEFS[node.class_type]?.output : undefined;
    if (!node || !kind) return;
    const ui = await writeOutputs(ctx.dirs, { kind, nodeId: id, inputs: node.inputs, hostile: ctx.hostileFilenames() });
    if (Object.keys(ui).length === 0) return;
    outputs[id] = ui;
    meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
    toClient('executed', { node: id, display_node: id, output: ui, prompt_id: promptId });
  };

  add('execution_start', { prompt_id: promptId });
  const cached = script.kind === 'cached' ? Object.keys(prompt) : [];
  add('execution_cached', { nodes: cached, prompt_id: promptId });

  const steps = Math.max(1, ctx.steps);
  const samplers = order.filter((id) => isSampler(prompt[id]?.class_type ?? '')).length;
  const slice = ctx.runTimeMs / Math.max(1, order.length + samplers * steps);
  const failAt =
    script.kind === 'error'
      ? script.nodeId && order.includes(script.nodeId)
        ? script.nodeId
        : (order.find((id) => isSampler(prompt[id]?.class_type ?? '')) ?? toExecute[0])
      : undefined;
  const interruptAt = script.kind === 'interrupted' ? (order.find((id) => isSampler(prompt[id]?.class_type ?? '')) ?? order[Math.floor(order.length / 2)]) : undefined;

  try {
    if (script.kind === 'cached') {
      // Fully cached: only output nodes reach execute(), which re-emits their cached ui (no `executing`).
      for (const id of toExecute) {
        await ctx.sleep(0);
        await runOutput(id);
        setProgress(id, 'finished', 1, 1);
      }
    } else {
      for (const id of order) {
        const classType = prompt[id]?.class_type ?? '';
        setProgress(id, 'running', 0, 1);
        ctx.setCurrent(clientId, id);
        toClient('executing', { node: id, display_node: id, prompt_id: promptId });
        // execution.py _async_map_node_over_list calls nodes.before_node_execution() after `executing`
        // and before the node's function: an interrupt is seen here, at the start of the next node.
        if (ctx.interrupted()) throw new Interrupted(id);
        await ctx.sleep(slice);
        if (isSampler(classType)) {
          for (let step = 1; step <= steps; step++) {
            await ctx.sleep(slice);
            if (id === interruptAt && step === Math.ceil(steps / 2)) ctx.setInterrupted(true);
            if (ctx.interrupted()) throw new Interrupted(id); // checked at the top of the progress hook
            if (id === failAt && step === Math.ceil(steps / 2)) throw scriptedFailure(id, script);
            progress[id] = { value: step, max: steps, state: 'running' };
            sendProgressState();
            hub.send('progress', { value: step, max: steps, prompt_id: promptId, node: id }, clientId);
            if (step % 2 === 1) hub.sendPreview({ node_id: id, prompt_id: promptId, display_node_id: id, parent_node_id: null, real_node_id: id }, clientId);
          }
        } else {
          // A node without a progress hook never looks at the flag: it runs to its end (cooperative interrupt).
          if (id === interruptAt) ctx.setInterrupted(true);
          if (id === failAt) throw scriptedFailure(id, script);
        }
        try {
          await runOutput(id);
        } catch (ex) {
          if (ex instanceof PyError) throw new NodeFailure(id, ex.pyType, ex.message);
          throw ex;
        }
        setProgress(id, 'finished', progress[id]?.max ?? 1, progress[id]?.max ?? 1);
        executed.push(id);
      }
    }
    if (ctx.sendExecutionSuccess) add('execution_success', { prompt_id: promptId });
    ctx.setCurrent(clientId, null);
    return { success: true, outputs, meta, messages };
  } catch (ex) {
    if (ex instanceof Interrupted) {
      const nodeType = prompt[ex.nodeId]?.class_type ?? '';
      add('execution_interrupted', { prompt_id: promptId, node_id: ex.nodeId, node_type: nodeType, executed }, true);
    } else if (ex instanceof NodeFailure) {
      const node = prompt[ex.nodeId];
      add('execution_error', {
        prompt_id: promptId,
        node_id: ex.nodeId,
        node_type: node?.class_type ?? '',
        executed,
        exception_message: `${ex.pyMessage}\n`, // "{ex}\n{tips}" with no tips
        exception_type: ex.pyType,
        traceback: fakeTraceback(node?.class_type ?? ''),
        current_inputs: currentInputs(node?.inputs ?? {}),
        current_outputs: [],
      });
    } else {
      throw ex; // Aborted (restart) or a bug
    }
    ctx.setCurrent(clientId, null);
    return { success: false, outputs, meta, messages };
  }
}

function scriptedFailure(nodeId: string, script: RunScript): NodeFailure {
  const s = script.kind === 'error' ? script : { kind: 'error' as const };
  return new NodeFailure(nodeId, s.exceptionType ?? 'RuntimeError', s.message ?? `Scripted failure in node ${nodeId}`);
}

/** format_value over get_input_data: links become the str() of some Python object. */
function currentInputs(inputs: JsonObject): JsonObject {
  return Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [k, [Array.isArray(v) ? `<object from node ${String(v[0])} output ${String(v[1])}>` : v]]),
  );
}
