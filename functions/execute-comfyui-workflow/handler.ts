import { type Failure, FailureError, stoppedBy, toFailure } from './failure.js';
import { followPrompt } from './follow.js';
import { placeMediaInputs } from './media-inputs.js';
import { type CollectedOutputs, collectOutputs, localPath, type OutputData, type OutputFile, unsafeOutput } from './outputs.js';
import type { HandlerDeps, LiveSignal, StoredOutput, StoreOutput } from './ports.js';
import { ProgressLog } from './progress.js';
import { parseWorkflow, type Workflow } from './workflow.js';

/** The task's output in LittleHorse (a JSON_OBJ). */
export interface WorkflowResult {
  prompt_id: string;
  outputs: OutputFile[];
  data: OutputData[];
}

/** A task's end as a value; a template task's result is shaped by its template (functions/templates). */
export type Outcome<Result = WorkflowResult> = { ok: true; result: Result } | { ok: false; failure: Failure; promptId?: string };

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
  let workflow = parsed.workflow;
  if (deps.placeInput) {
    const placed = await placeMediaInputs(workflow, deps.placeInput, deps.signal, deps.log);
    if (!placed.ok) return finish(deps, { ok: false, failure: placed.failure });
    workflow = placed.workflow;
  }
  deps.log(`submit workflow (${Object.keys(workflow).length} nodes)`);
  const startedAt = deps.clock.now();

  // Listen before submitting: a fast (e.g. fully cached) prompt can finish before POST /prompt answers.
  const early: LiveSignal[] = [];
  const stopBuffering = deps.live?.listen((update) => early.push(update));
  let promptId: string;
  let attached: boolean;
  try {
    ({ promptId, attached } = await attachOrSubmit(workflow, deps));
  } catch (error) {
    stopBuffering?.();
    const failure = deps.signal.aborted ? stoppedBy(deps.signal.reason) : toFailure(error);
    if (deps.signal.aborted && deps.identity) await stopOnComfy(deps.identity.promptId, deps);
    return finish(deps, { ok: false, failure });
  }

  stopBuffering?.();
  const progress = new ProgressLog(workflow, promptId, deps.log, deps.logger, deps.clock.now);
  const completion = await followPrompt(promptId, progress, deps, startedAt, early, attached).catch(
    (error: unknown) => ({ status: 'failed' as const, failure: toFailure(error), stopWork: false }),
  );
  if (completion.status === 'failed') {
    if (completion.stopWork) await stopOnComfy(promptId, deps);
    return finish(deps, { ok: false, failure: completion.failure, promptId });
  }

  const collected = collectOutputs(completion.entry.outputs, {
    outputDir: deps.settings.outputDir,
    includeTemp: deps.settings.includeTempOutputs,
  });
  if (!collected.ok) return finish(deps, { ok: false, failure: collected.failure, promptId });
  try {
    if (deps.download) await downloadAll(collected.outputs, deps);
    if (deps.store) await storeAll(collected.outputs, deps.store, deps);
  } catch (error) {
    return finish(deps, { ok: false, failure: deps.signal.aborted ? stoppedBy(deps.signal.reason) : toFailure(error), promptId });
  }
  const result = { prompt_id: promptId, outputs: collected.outputs.files, data: collected.outputs.data };
  deps.log(`${result.outputs.length} output file(s)${result.outputs.map((f) => `\n  ${f.uri ?? f.path ?? `${f.type}/${f.subfolder}/${f.filename}`}`).join('')}`);
  return finish(deps, { ok: true, result });
}

/** A later attempt of the same TaskRun attaches to its earlier prompt instead of running it twice. */
async function attachOrSubmit(workflow: Workflow, deps: HandlerDeps): Promise<{ promptId: string; attached: boolean }> {
  const { comfy, identity, signal } = deps;
  if (identity && identity.earlierPromptIds.length > 0) {
    const earlier = new Set(identity.earlierPromptIds);
    const key = (identity.extraData.littlehorse as { idempotency_key?: string } | undefined)?.idempotency_key;
    const queue = await comfy.getQueue(signal);
    const active = [...queue.queue_running, ...queue.queue_pending].find(
      (item) => earlier.has(item.promptId) || (key !== undefined && (item.extraData.littlehorse as { idempotency_key?: string } | undefined)?.idempotency_key === key),
    );
    if (active) {
      deps.log(`attached to prompt ${active.promptId}, still on ComfyUI from an earlier attempt`);
      return { promptId: active.promptId, attached: true };
    }
    for (const id of [...identity.earlierPromptIds].reverse()) {
      const entry = await comfy.getHistory(id, signal);
      if (entry && entry.status?.status_str !== 'error') {
        deps.log(`attached to prompt ${id}, finished by an earlier attempt`);
        return { promptId: id, attached: true };
      }
    }
  }
  const promptId = await comfy.submitPrompt(
    { workflow, promptId: identity?.promptId, clientId: deps.live?.clientId, extraData: identity?.extraData },
    signal,
  );
  deps.log(`queued as prompt ${promptId}${deps.live?.connected ? '' : ' (live events unavailable: polling history)'}`);
  return { promptId, attached: false };
}

/** Removes the prompt from ComfyUI's queue, or interrupts it if it is the one running, so no GPU work is orphaned. */
async function stopOnComfy(promptId: string, deps: HandlerDeps): Promise<void> {
  const signal = AbortSignal.timeout(deps.cleanupBudgetMs?.(CLEANUP_TIMEOUT_MS) ?? CLEANUP_TIMEOUT_MS);
  try {
    const queue = await deps.comfy.getQueue(signal);
    if (queue.queue_pending.some((item) => item.promptId === promptId)) {
      await deps.comfy.deleteFromQueue([promptId], signal);
      deps.log(`removed prompt ${promptId} from ComfyUI's queue`);
    } else if (queue.queue_running.some((item) => item.promptId === promptId)) {
      await deps.comfy.interrupt(promptId, signal);
      deps.log(`interrupted prompt ${promptId} on ComfyUI`);
    }
  } catch (error) {
    deps.logger.warn('could not stop the prompt on ComfyUI', { promptId, error: error instanceof Error ? error.message : String(error) });
  }
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
