// The handler against a simulated ComfyUI that misbehaves: answers lost after queuing, a socket
// gone silent, a restart longer than the HTTP retries, and the first task after a restart.
import { describe, expect, it } from 'vitest';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { executeComfyuiWorkflow, type Outcome } from '../functions/execute-comfyui-workflow/handler.js';
import { promptIdentity } from '../functions/execute-comfyui-workflow/identity.js';
import { comfyPerTest, type Harness } from './support/handler-deps.js';

const fixture = comfyPerTest({ runTimeMs: 300 });
let harness: Harness | undefined;

const failureOf = (outcome: Outcome) => {
  if (outcome.ok) throw new Error('expected a failure');
  return outcome.failure;
};
const requests = (route: string) => fixture.comfy.stats.requests[route] ?? 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('no GPU work twice', () => {
  it('runs the prompt exactly once when ComfyUI queued it but the answer to POST /prompt was lost', async () => {
    const started: string[] = [];
    fixture.comfy.events.on('started', (id: string) => started.push(id));
    fixture.comfy.loseNextPromptAnswers(1, 'reset');
    harness = await fixture.harness();
    harness.deps.identity = promptIdentity({ wfRunId: 'wf-lost-answer', parentWfRunIds: [], taskGuid: '0-1', attemptNumber: 0 });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(harness.deps.identity.promptId);
    expect(started).toEqual([harness.deps.identity.promptId]);
    expect(fixture.comfy.stats.promptsSubmitted).toBe(1);
  });
});

describe('a socket open but silent', () => {
  it('costs at most ping interval + pong timeout + poll interval once ComfyUI has finished', async () => {
    const socket = { pingIntervalMs: 200, pongTimeoutMs: 150 };
    const settings = { pollIntervalMs: 300, watchdogIntervalMs: 60_000 }; // the watchdog cannot rescue it
    harness = await fixture.harness({ socket, settings });
    fixture.comfy.silent = true;
    let finishedAt = 0;
    fixture.comfy.events.once('history-written', () => (finishedAt = Date.now()));
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    const late = Date.now() - finishedAt;
    expect(outcome.ok).toBe(true);
    // Generous: twice the worst case the settings allow.
    expect(late).toBeLessThan(2 * (socket.pingIntervalMs + socket.pongTimeoutMs + settings.pollIntervalMs));
  });
});

describe('a ComfyUI restart', () => {
  it('is reported as the prompt lost in a restart, even when it outlasts the HTTP retries', async () => {
    fixture.comfy.runTimeMs = 5_000;
    harness = await fixture.harness();
    fixture.comfy.events.once('started', () => {
      void (async () => {
        await fixture.comfy.down();
        fixture.comfy.restart();
        await sleep(1_500); // the harness's client gives up on a request after ~0.3 s
        await fixture.comfy.up();
      })();
    });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    const failure = failureOf(outcome);
    expect(failure.kind).toBe('unavailable');
    expect(failure.message).toContain('ComfyUI restarted and lost prompt');
    expect(failure.message).not.toContain('could not be reached');
  });

  it('gives the first task after a restart its live events, without waiting out the socket backoff', async () => {
    fixture.comfy.runTimeMs = 600;
    harness = await fixture.harness({ socket: { reconnectDelayMs: { first: 20_000, max: 20_000 } } });
    const lost = new Promise<void>((resolve) => harness!.live!.listen((signal) => signal.type === 'disconnected' && resolve()));
    await fixture.comfy.down();
    fixture.comfy.restart();
    await lost;
    await fixture.comfy.up();
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok).toBe(true);
    expect(harness.lines.some((line) => /node 3 \(KSampler\) step \d+\/\d+/.test(line))).toBe(true); // only the socket says that
    expect(requests('GET /history')).toBe(1);
  });
});
