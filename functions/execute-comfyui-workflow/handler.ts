import { queueHolds } from './comfy-messages.js';
import { type Failure, FailureError, type InvalidNode, stoppedBy, toFailure, validationFailure } from './failure.js';
import { followPrompt } from './follow.js';
import { placeMediaInputs } from './media-inputs.js';
import { type CollectedOutputs, collectOutputs, localPath, type OutputData, type OutputFile, unsafeOutput } from './outputs.js';
import type { HandlerDeps, LiveSignal, StoredOutput, StoreOutput } from './ports.js';
import { withTaskOutputFolder, taskOutputFolder } from './output-folder.js';
import { ProgressLog } from './progress.js';
import { parseWorkflow, type Workflow } from './workflow.js';

/** The task's output in LittleHorse (a JSON_OBJ). */
export interface WorkflowResult {
  prompt_id: string;
  outputs: OutputFile[];
  data: OutputData[];
  /** With COMFYUI_ALLOW_PARTIAL=true: output nodes ComfyUI left out, each with the errors that cost it. */
  skipped_outputs?: SkippedOutput[];
}

export interface SkippedOutput {
  node_id: string;
  class_type: string | null;
  errors: Array<{ node_id: string; class_type: string | null; type: string | null; message: string | null; details: unknown }>;
}

/** A task's end as a value; a template task's result is shaped by its template (functions/templates). */
export type Outcome<Result = WorkflowResult> =
  | { ok: true; result: Result }
  /** `interruptedPromptId`: a prompt this task interrupted, which ComfyUI is still finishing (its running node completes first). */
  | { ok: false; failure: Failure; promptId?: string; interruptedPromptId?: string };

/** How long cleanup calls (dequeue, interrupt) may take once the work has been stopped. */
const CLEANUP_TIMEOUT_MS = 3_000;

/**
 * Runs one ComfyUI workflow to its end: parse the task input, submit it (or attach to the prompt an
 * earlier attempt of the same TaskRun left behind), follow it, and collect every output. All I/O
 * comes in through `deps`; every outcome comes back as a value.
 */
export async function executeComfyuiWorkflow(input: unknown, deps: HandlerDeps): Promise<Outcome> {
  const parsed = parseWorkflow(input);
  if (!parsed.ok) {
    deps.log(`invalid workflow: ${parsed.failure.message}`);
    return { ok: false, failure: parsed.failure };
  }
  const key = idempotencyKeyOf(deps);
  let workflow = deps.settings.outputPerTask && key !== undefined ? withTaskOutputFolder(parsed.workflow, taskOutputFolder(key)) : parsed.workflow;
  if (deps.placeInput) {
    const placed = await placeMediaInputs(workflow, deps.placeInput, deps.signal, deps.log);
    if (!placed.ok) return finish(deps, { ok: false, failure: placed.failure });
    workflow = placed.workflow;
  }
  deps.log(`submit workflow (${Object.keys(workflow).length} nodes)`);
  return finish(deps, await runPrompt(workflow, deps, deps.clock.now(), true));
}

/**
 * Submits the workflow (or, with `attach`, attaches to an earlier attempt's prompt), follows it and
 * collects its outputs. An earlier prompt that turns out to have been stopped by its own attempt
 * (deadline, shutdown) was never going to finish: then the workflow is submitted afresh.
 */
async function runPrompt(workflow: Workflow, deps: HandlerDeps, startedAt: number, attach: boolean): Promise<Outcome> {
  // Listen before submitting: a fast (e.g. fully cached) prompt can finish before POST /prompt answers.
  const early: LiveSignal[] = [];
  const stopBuffering = deps.live?.listen((update) => early.push(update));
  let submitted: Submitted;
  try {
    submitted = await attachOrSubmit(workflow, deps, attach);
  } catch (error) {
    const failure = deps.signal.aborted ? stoppedBy(deps.signal.reason) : toFailure(error);
    const stopped = deps.signal.aborted && deps.identity ? await stopOnComfy(deps.identity.promptId, deps) : undefined;
    return { ok: false, failure, ...interrupted(stopped, deps.identity?.promptId) };
  } finally {
    stopBuffering?.();
  }
  const { promptId, attached, invalidNodes } = submitted;

  if (invalidNodes.length > 0 && !deps.settings.allowPartial) {
    const stopped = await stopOnComfy(promptId, deps);
    const failure = validationFailure(
      { type: 'prompt_outputs_partially_failed_validation', message: 'some output nodes failed validation (COMFYUI_ALLOW_PARTIAL=true would run the others)', details: null },
      invalidNodes,
      'ComfyUI accepted only part of the workflow, so it was taken off ComfyUI',
    );
    return { ok: false, failure, promptId, ...interrupted(stopped, promptId) };
  }

  const progress = new ProgressLog(workflow, promptId, deps.log, deps.logger, deps.clock.now);
  const completion = await followPrompt(promptId, progress, deps, startedAt, early, attached).catch(
    (error: unknown) => ({ status: 'failed' as const, failure: toFailure(error), stopWork: false }),
  );
  if (completion.status === 'failed') {
    if (attached && completion.failure.kind === 'unavailable' && !deps.signal.aborted && (await stoppedEarlier(promptId, deps))) {
      deps.log(`prompt ${promptId} of an earlier attempt was stopped on ComfyUI and has left it; submitting afresh`);
      return runPrompt(workflow, deps, startedAt, false);
    }
    const stopped = completion.stopWork ? await stopOnComfy(promptId, deps) : undefined;
    return { ok: false, failure: completion.failure, promptId, ...interrupted(stopped, promptId) };
  }

  const collected = collectOutputs(completion.entry.outputs, {
    outputDir: deps.settings.outputDir,
    includeTemp: deps.settings.includeTempOutputs,
  });
  if (!collected.ok) return { ok: false, failure: collected.failure, promptId };
  try {
    if (deps.download) await downloadAll(collected.outputs, deps);
    if (deps.store) await storeAll(collected.outputs, deps.store, deps);
  } catch (error) {
    return { ok: false, failure: deps.signal.aborted ? stoppedBy(deps.signal.reason) : toFailure(error), promptId };
  }
  const result: WorkflowResult = { prompt_id: promptId, outputs: collected.outputs.files, data: collected.outputs.data };
  if (invalidNodes.length > 0) result.skipped_outputs = skippedOutputs(workflow, invalidNodes);
  deps.log(`${result.outputs.length} output file(s)${result.outputs.map((f) => `\n  ${f.uri ?? f.path ?? `${f.type}/${f.subfolder}/${f.filename}`}`).join('')}`);
  if (result.skipped_outputs) deps.log(`skipped output node(s), invalid: ${result.skipped_outputs.map((o) => `${o.node_id} (${o.class_type ?? '?'})`).join(', ')}`);
  return { ok: true, result };
}

interface Submitted {
  promptId: string;
  attached: boolean;
  invalidNodes: InvalidNode[];
}

const idempotencyKeyOf = (deps: HandlerDeps): string | undefined =>
  (deps.identity?.extraData.littlehorse as { idempotency_key?: string } | undefined)?.idempotency_key;

const interrupted = (stopped: StopAction | undefined, promptId: string | undefined) =>
  stopped === 'interrupted' && promptId !== undefined ? { interruptedPromptId: promptId } : {};

/** With `attach`, a later attempt of the same TaskRun attaches to its earlier prompt instead of running it twice. */
async function attachOrSubmit(workflow: Workflow, deps: HandlerDeps, attach: boolean): Promise<Submitted> {
  const { comfy, identity, signal } = deps;
  if (attach && identity && identity.earlierPromptIds.length > 0) {
    const earlier = new Set(identity.earlierPromptIds);
    const key = idempotencyKeyOf(deps);
    const queue = await comfy.getQueue(signal);
    const active = [...queue.queue_running, ...queue.queue_pending].find(
      (item) => earlier.has(item.promptId) || (key !== undefined && (item.extraData.littlehorse as { idempotency_key?: string } | undefined)?.idempotency_key === key),
    );
    if (active) {
      deps.log(`attached to prompt ${active.promptId}, still on ComfyUI from an earlier attempt`);
      return { promptId: active.promptId, attached: true, invalidNodes: [] };
    }
    for (const id of [...identity.earlierPromptIds].reverse()) {
      const entry = await comfy.getHistory(id, signal);
      if (entry && entry.status?.status_str !== 'error') {
        deps.log(`attached to prompt ${id}, finished by an earlier attempt`);
        return { promptId: id, attached: true, invalidNodes: [] };
      }
    }
  }
  const submitted = await comfy.submitPrompt(
    { workflow, promptId: identity?.promptId, clientId: deps.live?.clientId, extraData: identity?.extraData },
    signal,
  );
  deps.log(`queued as prompt ${submitted.promptId}${deps.live?.connected ? '' : ' (live events unavailable: polling history)'}`);
  return { ...submitted, attached: false };
}

/**
 * Whether an earlier attempt's prompt ended because it was stopped rather than run: interrupted
 * (history `error` with `execution_interrupted`; ComfyUI's interrupt lets the running node finish
 * first), or dequeued (gone from the queue without a history entry).
 */
async function stoppedEarlier(promptId: string, deps: HandlerDeps): Promise<boolean> {
  try {
    const entry = await deps.comfy.getHistory(promptId, deps.signal);
    if (entry) return entry.status?.status_str === 'error' && entry.status.messages.some(([event]) => event === 'execution_interrupted');
    const queue = await deps.comfy.getQueue(deps.signal);
    return !queueHolds(queue, promptId);
  } catch {
    return false;
  }
}

/** The output nodes ComfyUI left out of a partly valid graph, each with the errors of the nodes it needed. */
function skippedOutputs(workflow: Workflow, invalidNodes: InvalidNode[]): SkippedOutput[] {
  const outputs = [...new Set(invalidNodes.flatMap((node) => node.dependent_outputs))];
  return outputs.map((id) => ({
    node_id: id,
    class_type: workflow[id]?.class_type ?? null,
    errors: invalidNodes
      .filter((node) => node.dependent_outputs.includes(id))
      .flatMap((node) => node.errors.map((e) => ({ node_id: node.node_id, class_type: node.class_type, type: e.type, message: e.message, details: e.details }))),
  }));
}

type StopAction = 'dequeued' | 'interrupted';

/** Removes the prompt from ComfyUI's queue, or interrupts it if it is the one running, so no GPU work is orphaned. */
async function stopOnComfy(promptId: string, deps: HandlerDeps): Promise<StopAction | undefined> {
  const signal = AbortSignal.timeout(deps.cleanupBudgetMs?.(CLEANUP_TIMEOUT_MS) ?? CLEANUP_TIMEOUT_MS);
  try {
    const queue = await deps.comfy.getQueue(signal);
    if (queue.queue_pending.some((item) => item.promptId === promptId)) {
      await deps.comfy.deleteFromQueue([promptId], signal);
      deps.log(`removed prompt ${promptId} from ComfyUI's queue`);
      return 'dequeued';
    }
    if (queue.queue_running.some((item) => item.promptId === promptId)) {
      await deps.comfy.interrupt(promptId, signal);
      deps.log(`interrupted prompt ${promptId} on ComfyUI (its running node finishes first)`);
      return 'interrupted';
    }
  } catch (error) {
    deps.logger.warn('could not stop the prompt on ComfyUI', { promptId, error: error instanceof Error ? error.message : String(error) });
  }
  return undefined;
}

async function downloadAll(outputs: CollectedOutputs, deps: HandlerDeps): Promise<void> {
  const seen = new Set<string>();
  for (const file of outputs.files) {
    const destination = localPath(deps.settings.outputDir, file);
    if (destination === undefined) {
      throw new FailureError(unsafeOutput(file.node_id, file.filename, file.subfolder, 'the path resolves outside the output folder'));
    }
    if (!seen.has(destination)) {
      seen.add(destination);
      await deps.download!(file, destination, deps.signal);
    }
    file.path = destination;
  }
}

/** Uploads each distinct file once; every entry naming it gets where it landed. */
async function storeAll(outputs: CollectedOutputs, store: StoreOutput, deps: HandlerDeps): Promise<void> {
  const stored = new Map<string, StoredOutput>();
  for (const file of outputs.files) {
    const id = `${file.type}/${file.subfolder}/${file.filename}`;
    let where = stored.get(id);
    if (!where) {
      where = await store(file, deps.signal);
      stored.set(id, where);
    }
    Object.assign(file, where);
  }
}

function finish(deps: HandlerDeps, outcome: Outcome): Outcome {
  deps.log(outcome.ok ? 'workflow complete' : `workflow failed: ${outcome.failure.message}`);
  return outcome;
}
