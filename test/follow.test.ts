// The follow loop on virtual time: which HTTP reads it makes and when, for a healthy socket, a
// silent or dropped one, a history timeout, a lost prompt and an unreachable ComfyUI.
import { describe, expect, it } from 'vitest';
import { FailureError, unavailable } from '../functions/execute-comfyui-workflow/failure.js';
import { type Completion, followPrompt, UNREACHABLE_GRACE_MS } from '../functions/execute-comfyui-workflow/follow.js';
import type { ComfyApi, HandlerDeps, HandlerSettings, LiveEvents, LiveSignal } from '../functions/execute-comfyui-workflow/ports.js';
import { ProgressLog } from '../functions/execute-comfyui-workflow/progress.js';
import type { ComfyEvent, HistoryEntry, Queue } from '../functions/execute-comfyui-workflow/comfy-messages.js';
import { FakeClock } from './support/fake-clock.js';
import { quietLogger } from './support/handler-deps.js';

const PROMPT = 'prompt-1';

/** ComfyUI's HTTP API as the follow loop reads it: where the prompt is, and whether ComfyUI answers. */
class FakeComfyApi implements ComfyApi {
  where: 'queued' | 'done' | 'gone' = 'queued';
  answering = true;
  readonly calls: Array<{ at: number; route: string }> = [];
  private readonly entry: HistoryEntry = { outputs: {}, status: { status_str: 'success', completed: true, messages: [] } };

  constructor(private readonly clock: FakeClock) {}

  async getQueue(): Promise<Queue> {
    this.called('GET /queue');
    const running = this.where === 'queued' ? [{ promptId: PROMPT, extraData: {} }] : [];
    return { queue_running: running, queue_pending: [] };
  }

  async getHistory(promptId: string): Promise<HistoryEntry | undefined> {
    this.called('GET /history');
    return this.where === 'done' && promptId === PROMPT ? this.entry : undefined;
  }

  submitPrompt(): Promise<{ promptId: string; invalidNodes: [] }> {
    throw new Error('not used by the follow loop');
  }
  deleteFromQueue(): Promise<void> {
    throw new Error('not used by the follow loop');
  }
  interrupt(): Promise<void> {
    throw new Error('not used by the follow loop');
  }

  private called(route: string): void {
    this.calls.push({ at: this.clock.now(), route });
    if (!this.answering) throw new FailureError(unavailable(`ComfyUI at http://comfy could not be reached (ECONNREFUSED) on ${route}, after 4 attempt(s)`));
  }
}

class FakeLive implements LiveEvents {
  readonly clientId = 'worker-1';
  private readonly listeners = new Set<(signal: LiveSignal) => void>();

  constructor(public connected: boolean) {}

  listen(listener: (signal: LiveSignal) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  send(signal: LiveSignal): void {
    if (signal.type !== 'event') this.connected = signal.type === 'connected';
    for (const listener of [...this.listeners]) listener(signal);
  }

  event(type: ComfyEvent['type'], data: Record<string, unknown> = {}): void {
    this.send({ type: 'event', event: { type, data: { prompt_id: PROMPT, ...data } } as ComfyEvent });
  }
}

const settings: HandlerSettings = {
  outputDir: '/unused',
  pollIntervalMs: 2_000,
  watchdogIntervalMs: 15_000,
  historyTimeoutMs: 600_000,
  allowPartial: false,
  outputPerTask: false,
  includeTempOutputs: false,
};

function setup(options: { connected?: boolean; live?: boolean; settings?: Partial<HandlerSettings> } = {}) {
  const clock = new FakeClock();
  const comfy = new FakeComfyApi(clock);
  const live = options.live === false ? undefined : new FakeLive(options.connected ?? true);
  const deps: HandlerDeps = {
    comfy,
    live,
    log: () => undefined,
    logger: quietLogger,
    clock,
    signal: new AbortController().signal,
    settings: { ...settings, ...options.settings },
  };
  const follow = (early: LiveSignal[] = [], attached = false): Promise<Completion> =>
    clock.run(followPrompt(PROMPT, new ProgressLog({}, PROMPT, () => undefined, quietLogger, clock.now), deps, 0, early, attached));
  return { clock, comfy, live: live!, follow };
}

const failure = (completion: Completion) => {
  if (completion.status !== 'failed') throw new Error('expected a failure');
  return completion;
};

describe('following a prompt', () => {
  it('takes the end from the socket and reads history once, queue never', async () => {
    const { clock, comfy, live, follow } = setup();
    clock.at(3_000, () => {
      live.event('execution_start');
      live.event('executing', { node: '3' });
      live.event('execution_success');
      comfy.where = 'done';
      live.event('executing', { node: null });
    });
    const completion = await follow();
    expect(completion.status).toBe('success');
    expect(comfy.calls).toEqual([{ at: 3_000, route: 'GET /history' }]);
  });

  it('reads history after a short grace when the "history written" signal does not come', async () => {
    const { clock, comfy, live, follow } = setup();
    clock.at(3_000, () => {
      comfy.where = 'done';
      live.event('execution_success');
    });
    expect((await follow()).status).toBe('success');
    expect(comfy.calls).toEqual([{ at: 5_000, route: 'GET /history' }]);
  });

  it('reads history at once when a socket that went silent is declared dead', async () => {
    const { clock, comfy, live, follow } = setup();
    clock.at(3_000, () => (comfy.where = 'done')); // the end is never heard: the socket carries nothing
    // LiveSocket's defaults declare it dead at most 2.5 s (ping) + 2 s (pong timeout) after it fell silent.
    clock.at(7_500, () => live.send({ type: 'disconnected' }));
    expect((await follow()).status).toBe('success');
    const reported = comfy.calls.at(-1)!.at;
    expect(reported).toBe(7_500);
    expect(reported - 3_000).toBeLessThanOrEqual(settings.pollIntervalMs + 5_000); // issue 12's bound
  });

  it('polls every poll interval while the socket is down, queue first', async () => {
    const { clock, comfy, follow } = setup({ connected: false });
    clock.at(5_000, () => (comfy.where = 'done'));
    expect((await follow()).status).toBe('success');
    expect(comfy.calls.map((c) => `${c.at} ${c.route}`)).toEqual(['2000 GET /queue', '4000 GET /queue', '6000 GET /queue', '6000 GET /history']);
  });

  it('checks at the watchdog interval while the socket is up but says nothing of the prompt', async () => {
    const { clock, comfy, follow } = setup();
    clock.at(20_000, () => (comfy.where = 'done'));
    expect((await follow()).status).toBe('success');
    expect(comfy.calls.map((c) => c.at)).toEqual([15_000, 30_000, 30_000]);
  });

  it('gives up at the history timeout and asks for the prompt to be stopped on ComfyUI', async () => {
    const { clock, follow } = setup({ settings: { historyTimeoutMs: 60_000 } });
    const completion = failure(await follow());
    expect(clock.now()).toBe(60_000);
    expect(completion.stopWork).toBe(true);
    expect(completion.failure.message).toContain('COMFYUI_HISTORY_TIMEOUT_SEC');
  });

  it('fails at once, saying ComfyUI restarted, when the socket drops and ComfyUI no longer knows the prompt', async () => {
    const { clock, comfy, live, follow } = setup();
    clock.at(4_000, () => {
      comfy.where = 'gone';
      live.send({ type: 'disconnected' });
    });
    const completion = failure(await follow());
    expect(clock.now()).toBe(4_000);
    expect(completion.failure).toMatchObject({ kind: 'unavailable' });
    expect(completion.failure.message).toContain(`ComfyUI restarted and lost prompt ${PROMPT}`);
  });

  it('says only that ComfyUI no longer knows a prompt when nothing hinted at a restart', async () => {
    const { comfy, follow } = setup({ live: false });
    comfy.where = 'gone';
    const completion = failure(await follow([], true));
    expect(completion.failure.message).toContain(`ComfyUI no longer knows prompt ${PROMPT}`);
    expect(completion.failure.message).not.toContain('restarted and lost');
  });

  it('waits for an unreachable ComfyUI to come back, then reports the prompt lost in its restart', async () => {
    const { clock, comfy, live, follow } = setup();
    clock.at(4_000, () => {
      comfy.answering = false;
      comfy.where = 'gone';
      live.send({ type: 'disconnected' });
    });
    clock.at(14_000, () => (comfy.answering = true));
    const completion = failure(await follow());
    expect(clock.now()).toBeLessThanOrEqual(14_000 + settings.pollIntervalMs);
    expect(completion.failure.message).toContain('ComfyUI restarted and lost prompt');
  });

  it('gives up on a ComfyUI that stays unreachable, naming how long it waited', async () => {
    const { clock, comfy, live, follow } = setup();
    clock.at(4_000, () => {
      comfy.answering = false;
      live.send({ type: 'disconnected' });
    });
    const completion = failure(await follow());
    expect(clock.now()).toBeGreaterThanOrEqual(4_000 + UNREACHABLE_GRACE_MS);
    expect(clock.now()).toBeLessThanOrEqual(4_000 + UNREACHABLE_GRACE_MS + settings.pollIntervalMs);
    expect(completion.stopWork).toBe(true);
    expect(completion.failure.message).toContain(`has not answered for ${UNREACHABLE_GRACE_MS / 1000} s`);
    expect(completion.failure.message).toContain('could not be reached');
  });

  it('checks at once when the socket came back while the prompt was being submitted (its events may be missed)', async () => {
    const { comfy, follow } = setup();
    comfy.where = 'done';
    expect((await follow([{ type: 'connected' }])).status).toBe('success');
    expect(comfy.calls.map((c) => `${c.at} ${c.route}`)).toEqual(['0 GET /queue', '0 GET /history']);
  });

  it('replays what the socket said while the prompt was being submitted', async () => {
    const { comfy, follow } = setup();
    comfy.where = 'done';
    const early: LiveSignal[] = [
      { type: 'event', event: { type: 'execution_success', data: { prompt_id: PROMPT } } },
      { type: 'event', event: { type: 'executing', data: { node: null, prompt_id: PROMPT } } },
    ];
    expect((await follow(early)).status).toBe('success');
    expect(comfy.calls).toEqual([{ at: 0, route: 'GET /history' }]);
  });
});
