import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };
import { executeComfyuiWorkflow, type Outcome } from '../functions/execute-comfyui-workflow/handler.js';
import { promptIdentity } from '../functions/execute-comfyui-workflow/identity.js';
import { comfyPerTest, type Harness } from './support/handler-deps.js';

const fixture = comfyPerTest({ runTimeMs: 100 });
let harness: Harness | undefined;

const run = async (options: Parameters<typeof fixture.harness>[0] = {}, input: unknown = txt2img) => {
  harness = await fixture.harness(options);
  const outcome = await executeComfyuiWorkflow(input, harness.deps);
  return { outcome, lines: harness.lines };
};
const failureOf = (outcome: Outcome) => {
  if (outcome.ok) throw new Error('expected a failure');
  return outcome.failure;
};
const requests = (route: string) => fixture.comfy.stats.requests[route] ?? 0;

describe('running a workflow on ComfyUI', () => {
  it('logs "submit" first and "workflow complete" last, and returns the prompt id with every output file', async () => {
    const { outcome, lines } = await run();
    expect(lines[0]).toContain('submit');
    expect(lines.at(-1)).toBe('workflow complete');
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.result.prompt_id).toMatch(/.+/);
    expect(fixture.comfy.history(outcome.result.prompt_id)).toBeDefined();
    const [file] = outcome.result.outputs;
    expect(file).toMatchObject({ node_id: '9', kind: 'images', type: 'output' });
    expect(file?.path && path.isAbsolute(file.path) && existsSync(file.path)).toBe(true);
  });

  it('takes completion from the socket and reads history exactly once', async () => {
    const { outcome } = await run({ settings: { pollIntervalMs: 60_000, watchdogIntervalMs: 60_000 } });
    expect(outcome.ok).toBe(true);
    expect(requests('GET /history')).toBe(1);
    expect(requests('GET /queue')).toBe(0);
    expect(requests('POST /prompt')).toBe(1);
  });

  it('logs progress: nodes started and throttled sampler steps', async () => {
    const { lines } = await run();
    expect(lines.some((l) => l.includes('node 3 (KSampler) started'))).toBe(true);
    expect(lines.some((l) => /node 3 \(KSampler\) step \d+\/\d+/.test(l))).toBe(true);
  });

  it('succeeds on a fully cached run', async () => {
    fixture.comfy.script({ kind: 'cached' });
    const { outcome, lines } = await run();
    expect(outcome.ok).toBe(true);
    expect(lines.some((l) => l.startsWith('cached nodes:'))).toBe(true);
  });

  it('waits for ComfyUI to write history when it is slow to, still with one read', async () => {
    fixture.comfy.historyDelayMs = 500;
    const { outcome } = await run({ settings: { watchdogIntervalMs: 60_000 } });
    expect(outcome.ok).toBe(true);
    expect(requests('GET /history')).toBe(1);
  });

  it('ignores events of prompts it did not submit', async () => {
    fixture.comfy.runTimeMs = 150;
    harness = await fixture.harness();
    const clientId = harness.live!.clientId;
    // Someone else's prompt, queued first under the same client id, with a different graph.
    const other = { '20': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } }, '21': { class_type: 'PreviewAny', inputs: { source: ['20', 0] } } };
    await fetch(`${fixture.comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: other, client_id: clientId }) });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok).toBe(true);
    expect(harness.lines.some((l) => l.includes('node 20') || l.includes('node 21'))).toBe(false);
  });
});

describe('every outcome named', () => {
  it('turns ComfyUI rejecting the workflow into a validation failure', async () => {
    const { outcome } = await run({}, { ...txt2img, '9': { class_type: 'SaveImage', inputs: { images: ['6', 0], filename_prefix: 'x' } } });
    expect(failureOf(outcome)).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-workflow' });
  });

  it('names node, type, exception and message when a node fails, with the traceback in the log only', async () => {
    fixture.comfy.script({ kind: 'error', nodeId: '3', exceptionType: 'RuntimeError', message: 'mat1 and mat2 shapes cannot be multiplied' });
    const { outcome, lines } = await run();
    const failure = failureOf(outcome);
    expect(failure).toMatchObject({ kind: 'execution', name: 'comfyui-execution-error' });
    expect(failure.message).toContain('3 (KSampler)');
    expect(failure.message).toContain('RuntimeError');
    expect(failure.message).toContain('mat1 and mat2 shapes cannot be multiplied');
    expect(failure.message).not.toContain('Traceback');
    expect(lines.some((l) => l.startsWith('traceback from node 3'))).toBe(true);
  });

  it('reports a run interrupted by someone else as a retryable failure that says so', async () => {
    fixture.comfy.script({ kind: 'interrupted' });
    const { outcome } = await run();
    const failure = failureOf(outcome);
    expect(failure.kind).toBe('unavailable');
    expect(failure.message).toContain('interrupted');
  });

  it('fails at once when ComfyUI forgets the prompt (restarted mid-run)', async () => {
    fixture.comfy.runTimeMs = 5_000;
    fixture.comfy.events.once('started', () => setTimeout(() => (fixture.comfy.restart(), fixture.comfy.dropSockets()), 50));
    const started = Date.now();
    const { outcome } = await run();
    expect(failureOf(outcome).message).toContain('no longer knows');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('stops the prompt on ComfyUI when the history timeout passes', async () => {
    fixture.comfy.runTimeMs = 5_000;
    const { outcome } = await run({ settings: { historyTimeoutMs: 400 } });
    const failure = failureOf(outcome);
    expect(failure.kind).toBe('unavailable');
    expect(failure.message).toContain('COMFYUI_HISTORY_TIMEOUT_SEC');
    expect(fixture.comfy.stats.interrupts).toHaveLength(1);
  });

  it('removes a still-queued prompt from ComfyUI when told to stop', async () => {
    fixture.comfy.runTimeMs = 5_000;
    await fetch(`${fixture.comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: txt2img }) }); // occupies ComfyUI
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('worker shutting down')), 300);
    const { outcome } = await run({ signal: stop.signal });
    expect(failureOf(outcome).message).toBe('worker shutting down');
    expect(fixture.comfy.stats.deletes).toHaveLength(1);
  });
});

describe('when the socket misbehaves', () => {
  it('polls history when the socket is down at submit', async () => {
    fixture.comfy.refuseSockets = true;
    const { outcome, lines } = await run();
    expect(outcome.ok).toBe(true);
    expect(lines.some((l) => l.includes('polling history'))).toBe(true);
  });

  it('finishes when the socket drops mid-run', async () => {
    fixture.comfy.runTimeMs = 600;
    fixture.comfy.events.once('started', () => setTimeout(() => fixture.comfy.dropSockets(), 100));
    const { outcome } = await run({ settings: { watchdogIntervalMs: 60_000 } });
    expect(outcome.ok).toBe(true);
  });

  it('finishes when the socket stays open but goes silent, thanks to the watchdog', async () => {
    fixture.comfy.silent = true;
    const started = Date.now();
    const { outcome } = await run({ settings: { watchdogIntervalMs: 300, pollIntervalMs: 60_000 } });
    expect(outcome.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('outputs', () => {
  it('rejects hostile file names instead of joining them', async () => {
    fixture.comfy.hostileFilenames = true;
    const { outcome } = await run();
    expect(failureOf(outcome)).toMatchObject({ kind: 'execution', name: 'comfyui-unsafe-output' });
  });

  it('downloads each output through /view when ComfyUI runs on another host', async () => {
    const local = mkdtempSync(path.join(tmpdir(), 'worker-out-'));
    const { outcome } = await run({ download: { outputDir: local } });
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const file = outcome.result.outputs[0]!;
    expect(file.path!.startsWith(local)).toBe(true);
    const original = path.join(fixture.comfy.outputDir, file.subfolder, file.filename);
    expect(readFileSync(file.path!)).toEqual(readFileSync(original));
  });

  it('refuses a download larger than the limit', async () => {
    const local = mkdtempSync(path.join(tmpdir(), 'worker-out-'));
    const { outcome } = await run({ download: { outputDir: local, maxBytes: 10 } });
    expect(failureOf(outcome).message).toContain('COMFYUI_DOWNLOAD_MAX_BYTES');
  });
});

describe('at-most-once GPU work', () => {
  const ref = { wfRunId: 'wf-1', parentWfRunIds: [], taskGuid: '0-1', attemptNumber: 0 };

  it('attaches a later attempt to the prompt an earlier attempt left running', async () => {
    fixture.comfy.runTimeMs = 400;
    const first = promptIdentity(ref);
    await fetch(`${fixture.comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: txt2img, prompt_id: first.promptId, extra_data: first.extraData }) });
    harness = await fixture.harness();
    harness.deps.identity = promptIdentity({ ...ref, attemptNumber: 1 });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(first.promptId);
    expect(fixture.comfy.stats.promptsSubmitted).toBe(1);
  });

  it('reruns when the earlier attempt failed on ComfyUI', async () => {
    fixture.comfy.script({ kind: 'error' });
    const first = promptIdentity(ref);
    harness = await fixture.harness();
    harness.deps.identity = first;
    expect((await executeComfyuiWorkflow(txt2img, harness.deps)).ok).toBe(false);
    harness.deps.identity = promptIdentity({ ...ref, attemptNumber: 1 });
    const outcome = await executeComfyuiWorkflow(txt2img, harness.deps);
    expect(outcome.ok && outcome.result.prompt_id).toBe(harness.deps.identity.promptId);
    expect(fixture.comfy.stats.promptsSubmitted).toBe(2);
  });
});
