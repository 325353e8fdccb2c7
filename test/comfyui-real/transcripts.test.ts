import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, messageTypes, recordPrompt } from '../support/comfy-transcript.js';
import { CONFORMANCE_RECORDINGS } from '../support/conformance-recordings.js';
import { type RealComfy, realComfy } from './real-comfy.js';

const OUT = path.resolve(import.meta.dirname, '../data/comfyui-transcripts/recorded');

let comfy: RealComfy;
beforeAll(async () => {
  comfy = await realComfy();
});
afterAll(async () => {
  await comfy?.stop();
});

// What ComfyUI's own server sends, recorded the way the conformance test records the simulator
// (test/devstack-comfyui-conformance.test.ts); REAL_COMFYUI_RECORD_TRANSCRIPTS=true keeps them as test data.
describe('transcripts of the real server', () => {
  it.each(Object.keys(CONFORMANCE_RECORDINGS))('%s', async (name) => {
    const transcript = await recordPrompt(comfy.url, CONFORMANCE_RECORDINGS[name]!());
    const types = messageTypes(transcript);
    expect(types[0]).toBe('status');
    const end = { ok: 'execution_success', cached: 'execution_success', partial: 'execution_success', execerr: 'execution_error', interrupt: 'execution_interrupted' }[name];
    if (end) {
      expect(types.slice(-3)).toEqual([end, 'status', 'executing']);
      expect(messages(transcript, 'executing').at(-1)?.data.node).toBeNull();
    } else {
      expect(types).toEqual(['status']); // a 400: nothing queued, nothing sent
    }
    if (process.env.REAL_COMFYUI_RECORD_TRANSCRIPTS === 'true') {
      mkdirSync(OUT, { recursive: true });
      writeFileSync(path.join(OUT, `${name}.transcript.json`), `${JSON.stringify(transcript, null, 1)}\n`);
    }
  });
});
