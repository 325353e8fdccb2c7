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
  /** ComfyUI's output cache (the classic CacheSet), when the fake keeps one: node signature → its ui (null for a non-output node). */
  cache?: Map<string, JsonObject | null>;
}

/**
 * A node's cache key as comfy_execution/caching.py builds it: its class and inputs, a link standing
 * for the linked node's own key and slot. Equal keys mean ComfyUI reuses the earlier result.
 */
function signatures(prompt: ApiPrompt): (id: string) => string {
  const memo = new Map<string, string>();
  const sig = (id: string): string => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    memo.set(id, ''); // a cycle ends here (validation refuses cycles anyway)
    const node = prompt[id];
    const inputs = Object.entries(node?.inputs ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, Array.isArray(v) && typeof v[0] === 'string' && prompt[v[0]] ? ['link', sig(v[0]), v[1]] : v]);
    const key = JSON.stringify([node?.class_type, inputs]);
    memo.set(id, key);
    return key;
  };
  return sig;
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

/**
 * Nodes the outputs need, dependencies first, in the order ComfyUI runs them (comfy_execution/graph.py
 * ExecutionList): nodes are added output by output, each before its inputs; of the nodes whose inputs
 * are ready, `ux_friendly_pick_node` takes an output node first, then one an output node waits on,
 * then one two steps from an output, else the first added.
 */
export function executionOrder(prompt: ApiPrompt, outputs: string[]): string[] {
  const pending: string[] = [];
  const inputsOf = new Map<string, Set<string>>();
  const add = (id: string) => {
    if (inputsOf.has(id) || !prompt[id]) return;
    const inputs = new Set<string>();
    inputsOf.set(id, inputs);
    pending.push(id);
    for (const v of Object.values(prompt[id].inputs)) {
      if (Array.isArray(v) && typeof v[0] === 'string' && prompt[v[0]]) {
        inputs.add(v[0]);
        add(v[0]);
      }
    }
  };
  outputs.forEach(add);
  const isOutput = (id: string) => NODE_DEFS[prompt[id]?.class_type ?? '']?.output !== undefined;
  const blocking = (id: string) => pending.filter((other) => inputsOf.get(other)?.has(id));
  const order: string[] = [];
  while (pending.length > 0) {
    const ready = pending.filter((id) => [...(inputsOf.get(id) ?? [])].every((input) => order.includes(input)));
    const pick =
      ready.find(isOutput) ??
      ready.find((id) => blocking(id).some(isOutput)) ??
      ready.find((id) => blocking(id).some((next) => blocking(next).some(isOutput))) ??
      ready[0];
    if (pick === undefined) break; // a cycle: validation refuses those before they get here
    order.push(pick);
    pending.splice(pending.indexOf(pick), 1);
  }
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
  const sig = signatures(prompt);
  const fromCache = (id: string) => script.kind === 'success' && ctx.cache?.has(sig(id)) === true;
  const cached = script.kind === 'cached' ? Object.keys(prompt) : Object.keys(prompt).filter((id) => order.includes(id) && fromCache(id));
  add('execution_cached', { nodes: cached, prompt_id: promptId });
  const remember = () => {
    if (!ctx.cache) return;
    const kept = [...cached, ...executed].map((id): [string, JsonObject | null] => [sig(id), outputs[id] ?? null]);
    ctx.cache.clear(); // the classic cache keeps what the last prompt used (clean_unused)
    for (const [key, ui] of kept) ctx.cache.set(key, ui);
  };

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
        if (cached.includes(id)) {
          // execution.py execute(): a cached node sends no `executing`; an output node re-sends its cached ui.
          const ui = ctx.cache?.get(sig(id));
          if (ui) {
            outputs[id] = ui;
            meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
            toClient('executed', { node: id, display_node: id, output: ui, prompt_id: promptId });
          }
          setProgress(id, 'finished', 1, 1);
          continue;
        }
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
    remember();
    return { success: true, outputs, meta, messages };
  } catch (ex) {
    if (ex instanceof Interrupted || ex instanceof NodeFailure) remember();
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
        current_inputs: currentInputs(prompt, node),
        current_outputs: [ex.nodeId, ...[...executed].reverse()], // the nodes whose outputs ComfyUI holds
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

/** format_value over get_input_data: links become the str() of some Python object; hidden inputs are filled in. */
function currentInputs(prompt: ApiPrompt, node: ApiPrompt[string] | undefined): JsonObject {
  const given = Object.entries(node?.inputs ?? {}).map(([k, v]) => [k, [Array.isArray(v) ? `<object from node ${String(v[0])} output ${String(v[1])}>` : v]]);
  const hidden = (NODE_DEFS[node?.class_type ?? '']?.hidden ?? []).map((name) => [name, [name === 'prompt' ? JSON.stringify(prompt) : null]]);
  return Object.fromEntries([...given, ...hidden]);
}
