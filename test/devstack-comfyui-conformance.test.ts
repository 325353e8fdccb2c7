import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';
import { httpEntry, messages, messageTypes, recordPrompt, shapeOf, type Transcript } from './support/comfy-transcript.js';
import { CONFORMANCE_RECORDINGS } from './support/conformance-recordings.js';

// The simulator against what ComfyUI's own server sent for the same prompts: recorded by
// `npm run test:comfyui` (test/data/comfyui-transcripts/recorded, ComfyUI 0.8.0 on CPU), the same way
// this test records the simulator. Where they differ, the simulator is wrong.
const DATA = path.resolve(import.meta.dirname, 'data/comfyui-transcripts');
const realTranscript = (name: string): Transcript => {
  const recorded = path.join(DATA, 'recorded', `${name}.transcript.json`);
  return JSON.parse(readFileSync(existsSync(recorded) ? recorded : path.join(DATA, 'realstack', `${name}.transcript.json`), 'utf8')) as Transcript;
};

let comfy: FakeComfy;
const simulated = new Map<string, Transcript>();
beforeAll(async () => {
  comfy = await startFakeComfy({ runTimeMs: 200, cache: true });
  for (const name of Object.keys(CONFORMANCE_RECORDINGS)) {
    simulated.set(name, await recordPrompt(comfy.url, CONFORMANCE_RECORDINGS[name]!(), 10_000));
  }
});
afterAll(async () => {
  await comfy.stop();
});

const both = (name: string) => ({ real: realTranscript(name), sim: simulated.get(name)! });
const executingNodes = (t: Transcript) => messages(t, 'executing').map((m) => m.data.node);
const historyEntry = (t: Transcript) => {
  const body = httpEntry(t, 'GET /history/{id}')?.body as Record<string, unknown> | undefined;
  return body ? Object.values(body)[0] : undefined;
};

describe('the ComfyUI simulator matches the real server', () => {
  it.each(['ok', 'execerr', 'partial', 'cached', 'interrupt'])('sends the same messages in the same order for a run: %s', (name) => {
    const { real, sim } = both(name);
    expect(messageTypes(sim)).toEqual(messageTypes(real));
    expect(executingNodes(sim)).toEqual(executingNodes(real));
  });

  it.each(['invalid', 'no-outputs'])('queues nothing and sends nothing for a 400: %s', (name) => {
    const { real, sim } = both(name);
    expect(messageTypes(sim)).toEqual(messageTypes(real));
    expect(httpEntry(sim, 'POST /prompt')?.status).toBe(400);
  });

  it.each(['ok', 'partial', 'invalid', 'no-outputs'])('answers POST /prompt in the same shape: %s', (name) => {
    const { real, sim } = both(name);
    expect(httpEntry(sim, 'POST /prompt')?.status).toBe(httpEntry(real, 'POST /prompt')?.status);
    expect(shapeOf(httpEntry(sim, 'POST /prompt')?.body)).toEqual(shapeOf(httpEntry(real, 'POST /prompt')?.body));
  });

  it('reports the same node errors for the same graphs, word for word', () => {
    for (const name of ['invalid', 'partial']) {
      const { real, sim } = both(name);
      const errors = (t: Transcript) => (httpEntry(t, 'POST /prompt')?.body as { node_errors: unknown }).node_errors;
      expect(errors(sim)).toEqual(errors(real));
    }
  });

  it.each(['ok', 'execerr', 'interrupt', 'cached'])('writes history entries of the same shape: %s', (name) => {
    const { real, sim } = both(name);
    expect(shapeOf(historyEntry(sim))).toEqual(shapeOf(historyEntry(real)));
  });

  it('lists the queue in the same shape while a prompt runs', () => {
    const { real, sim } = both('interrupt');
    expect(shapeOf(httpEntry(sim, 'GET /queue')?.body)).toEqual(shapeOf(httpEntry(real, 'GET /queue')?.body));
  });

  it('interrupts cooperatively: the running node completes, and the next one is named', () => {
    for (const transcript of Object.values(both('interrupt'))) {
      const interruptAt = transcript.findIndex((e) => 'http' in e && e.http === 'POST /interrupt');
      const running = executingNodes(transcript.slice(0, interruptAt)).at(-1);
      const [interrupted] = messages(transcript, 'execution_interrupted');
      expect(interrupted?.data.executed).toContain(running);
      const nodesAfter = executingNodes(transcript.slice(interruptAt)).filter((n) => n !== null);
      expect(nodesAfter).toEqual([interrupted?.data.node_id]);
      expect(messageTypes(transcript.slice(interruptAt))).toEqual(['executing', 'execution_interrupted', 'status', 'executing']);
    }
  });

  it('sends an error the same way: the failing node, its type and the exception', () => {
    const { real, sim } = both('execerr');
    const [realError] = messages(real, 'execution_error');
    const [simError] = messages(sim, 'execution_error');
    expect(shapeOf(simError?.data)).toEqual(shapeOf(realError?.data));
    expect(simError?.data).toMatchObject({ node_id: realError?.data.node_id, node_type: realError?.data.node_type, exception_type: realError?.data.exception_type });
  });
});
