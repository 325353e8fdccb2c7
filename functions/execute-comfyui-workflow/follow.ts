import { type ComfyEvent, type ExecutionError, type HistoryEntry, eventPromptId, queueHolds } from './comfy-messages.js';
import { type Failure, FailureError, nodeFailure, unavailable } from './failure.js';
import type { HandlerDeps, LiveSignal } from './ports.js';
import type { ProgressLog } from './progress.js';

/** After a terminal event, how long to wait for ComfyUI's "history written" signal before reading it anyway. */
const HISTORY_GRACE_MS = 2_000;
/** While ComfyUI does not answer at all, how long a followed prompt waits for it to come back (a restart). */
export const UNREACHABLE_GRACE_MS = 30_000;

export type Completion =
  | { status: 'success'; entry: HistoryEntry }
  /** `stopWork`: the prompt may still be queued or running on ComfyUI and should be stopped there. */
  | { status: 'failed'; failure: Failure; stopWork: boolean };

type Check = { kind: 'done'; entry: HistoryEntry } | { kind: 'pending' } | { kind: 'lost' };

/**
 * Follows one prompt to its end. Completion comes from the socket (success, error or interrupt for
 * our prompt id), then history is read once for the outputs. The socket is never trusted alone: when
 * it drops (or is declared dead for want of pongs) history is read at once, then every poll interval
 * while it is down; while it is up, a slow watchdog read catches a socket that still pongs but
 * carries nothing (ComfyUI #3390, #9393). A prompt ComfyUI forgot fails at once; while ComfyUI does
 * not answer at all, it is given UNREACHABLE_GRACE_MS to come back, so a restart is reported as the
 * lost prompt it is.
 */
export async function followPrompt(
  promptId: string,
  progress: ProgressLog,
  deps: HandlerDeps,
  startedAt: number,
  /** What the socket said between submitting and following, replayed first. */
  early: LiveSignal[] = [],
  /** A prompt another process submitted: its events go to that process's socket, so poll from the start. */
  attached = false,
): Promise<Completion> {
  const { comfy, live, clock, settings, signal } = deps;
  const interval = () => (live?.connected && !attached ? settings.watchdogIntervalMs : settings.pollIntervalMs);
  let terminal: { event: ComfyEvent; at: number } | undefined;
  let historyReady = false;
  let nextCheck = attached ? clock.now() : clock.now() + interval();
  /** The connection to ComfyUI broke while following: a prompt it then no longer knows was lost in a restart. */
  let outage = false;
  let unreachableSince: number | undefined;
  let wake = () => {};

  const onUpdate = (update: LiveSignal) => {
    if (update.type === 'event') {
      if (eventPromptId(update.event) !== promptId) return;
      progress.onEvent(update.event);
      const type = update.event.type;
      if (type === 'execution_success' || type === 'execution_error' || type === 'execution_interrupted') {
        terminal = { event: update.event, at: clock.now() };
      } else if (type === 'executing' && update.event.data.node === null) {
        historyReady = true; // main.py writes history before it sends this
      } else return;
    } else if (update.type === 'connected') {
      nextCheck = clock.now(); // events may have been missed while it was down
    } else {
      outage = true;
      nextCheck = clock.now(); // the end may have gone unheard; polling from here on
    }
    wake();
  };
  const unlisten = live?.listen(onUpdate);
  for (const update of early) onUpdate(update);

  const check = async (expectDone: boolean): Promise<Check> => {
    // Queue before history: a prompt that finishes in between is then still seen in history.
    if (!expectDone && (await inQueue())) return { kind: 'pending' };
    const entry = await comfy.getHistory(promptId, signal);
    if (entry) return { kind: 'done', entry };
    if (!expectDone) return { kind: 'lost' };
    if (await inQueue()) return { kind: 'pending' };
    const late = await comfy.getHistory(promptId, signal);
    return late ? { kind: 'done', entry: late } : { kind: 'lost' };
  };
  const inQueue = async () => {
    const queue = await comfy.getQueue(signal);
    return queueHolds(queue, promptId);
  };

  try {
    for (;;) {
      const woken = new Promise<void>((resolve) => (wake = resolve));
      if (signal.aborted) return stopped(signal);
      const now = clock.now();
      const timeoutAt = startedAt + settings.historyTimeoutMs;
      if (now >= timeoutAt) return timedOut(promptId, settings.historyTimeoutMs);

      if (terminal?.event.type === 'execution_error') {
        return { status: 'failed', failure: executionFailure(terminal.event.data, deps.log), stopWork: false };
      }
      if (terminal?.event.type === 'execution_interrupted') {
        return { status: 'failed', failure: interruptedFailure(promptId, terminal.event.data), stopWork: false };
      }
      const graceOver = terminal !== undefined && now >= terminal.at + HISTORY_GRACE_MS;
      if (historyReady || graceOver || now >= nextCheck) {
        const expectDone = historyReady || terminal !== undefined;
        historyReady = false;
        let result: Check;
        try {
          result = await check(expectDone);
        } catch (error) {
          if (signal.aborted || !(error instanceof FailureError) || error.failure.kind !== 'unavailable') throw error;
          outage = true;
          unreachableSince ??= now;
          if (clock.now() - unreachableSince >= UNREACHABLE_GRACE_MS) return unreachable(promptId, error.failure.message);
          nextCheck = clock.now() + settings.pollIntervalMs;
          continue;
        }
        unreachableSince = undefined;
        if (result.kind === 'done') return fromHistory(promptId, result.entry, deps.log);
        if (result.kind === 'lost') return { status: 'failed', failure: lostFailure(promptId, outage), stopWork: false };
        nextCheck = clock.now() + interval();
        continue;
      }
      const wakeAt = Math.min(nextCheck, timeoutAt, terminal ? terminal.at + HISTORY_GRACE_MS : Infinity);
      await waitFor(Math.max(0, wakeAt - now), woken, deps);
    }
  } catch (error) {
    if (signal.aborted) return stopped(signal);
    throw error;
  } finally {
    unlisten?.();
  }
}

const WOKEN = 'woken';

async function waitFor(ms: number, woken: Promise<void>, deps: HandlerDeps): Promise<void> {
  const done = new AbortController();
  const timer = deps.clock.sleep(ms, AbortSignal.any([deps.signal, done.signal])).catch(() => undefined);
  await Promise.race([timer, woken]);
  done.abort(WOKEN); // a reason of our own: abort() without one builds a DOMException, every wait
}

/** A history entry → success, or the failure its status messages record. */
function fromHistory(promptId: string, entry: HistoryEntry, log: (line: string) => void): Completion {
  if (entry.status?.status_str !== 'error') return { status: 'success', entry };
  for (const [event, data] of entry.status.messages) {
    if (event === 'execution_error') {
      return { status: 'failed', failure: executionFailure(data as ExecutionError, log), stopWork: false };
    }
    if (event === 'execution_interrupted') {
      return { status: 'failed', failure: interruptedFailure(promptId, data as { node_id?: string; node_type?: string }), stopWork: false };
    }
  }
  return {
    status: 'failed',
    failure: { kind: 'execution', name: 'comfyui-execution-error', message: `ComfyUI recorded prompt ${promptId} as failed without saying why.`, details: { status: entry.status } },
    stopWork: false,
  };
}

function executionFailure(data: ExecutionError, log: (line: string) => void): Failure {
  const traceback = Array.isArray(data.traceback) ? data.traceback.join('') : (data.traceback ?? '');
  if (traceback) log(`traceback from node ${data.node_id ?? '?'}:\n${traceback.trimEnd()}`);
  return nodeFailure(data);
}

function interruptedFailure(promptId: string, data: { node_id?: string; node_type?: string }): Failure {
  const at = data.node_id ? ` at node ${data.node_id} (${data.node_type ?? 'unknown type'})` : '';
  return unavailable(`ComfyUI prompt ${promptId} was interrupted${at} by someone else (POST /interrupt); LittleHorse may retry it.`, {
    prompt_id: promptId,
    node_id: data.node_id ?? null,
  });
}

function lostFailure(promptId: string, afterOutage: boolean): Failure {
  return unavailable(
    afterOutage
      ? `ComfyUI restarted and lost prompt ${promptId}: the connection to it broke while the prompt was followed, and now ComfyUI no longer knows it (neither queued, running nor in history); LittleHorse may retry it.`
      : `ComfyUI no longer knows prompt ${promptId}: it is neither queued, running nor in history (was ComfyUI restarted, or its history cleared?); LittleHorse may retry it.`,
    { prompt_id: promptId },
  );
}

function unreachable(promptId: string, problem: string): Completion {
  return {
    status: 'failed',
    failure: unavailable(`${problem}; ComfyUI has not answered for ${UNREACHABLE_GRACE_MS / 1000} s while prompt ${promptId} was followed, so it may be lost; LittleHorse may retry it.`, {
      prompt_id: promptId,
    }),
    stopWork: true,
  };
}

function timedOut(promptId: string, timeoutMs: number): Completion {
  return {
    status: 'failed',
    failure: unavailable(
      `No result from ComfyUI for prompt ${promptId} within ${timeoutMs / 1000} s (COMFYUI_HISTORY_TIMEOUT_SEC); raise it for longer workflows.`,
      { prompt_id: promptId },
    ),
    stopWork: true,
  };
}

function stopped(signal: AbortSignal): Completion {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'stopped');
  return { status: 'failed', failure: unavailable(reason), stopWork: true };
}
