import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../devstack/comfyui/index.js';

let comfy: FakeComfy;
beforeEach(async () => {
  comfy = await startFakeComfy();
});
afterEach(async () => {
  await comfy.stop();
});

async function upload(fields: { bytes?: string; filename?: string; subfolder?: string; overwrite?: string; type?: string }) {
  const form = new FormData();
  if (fields.bytes !== undefined) form.append('image', new Blob([fields.bytes]), fields.filename ?? 'a.png');
  for (const key of ['subfolder', 'overwrite', 'type'] as const) if (fields[key] !== undefined) form.append(key, fields[key]);
  const response = await fetch(`${comfy.url}/upload/image`, { method: 'POST', body: form });
  return { status: response.status, body: response.status === 200 ? ((await response.json()) as { name: string; subfolder: string; type: string }) : undefined };
}

describe('the ComfyUI double: POST /upload/image (server.py image_upload)', () => {
  it('stores the file in the input folder under its part filename and subfolder', async () => {
    expect(await upload({ bytes: 'one', subfolder: 'job-1' })).toEqual({ status: 200, body: { name: 'a.png', subfolder: 'job-1', type: 'input' } });
    expect(readFileSync(path.join(comfy.inputDir, 'job-1', 'a.png'), 'utf8')).toBe('one');
  });

  it('renames a different file of the same name unless told to overwrite', async () => {
    await upload({ bytes: 'one' });
    expect((await upload({ bytes: 'two' })).body?.name).toBe('a (1).png');
    expect((await upload({ bytes: 'three' })).body?.name).toBe('a (2).png');
    expect((await upload({ bytes: 'four', overwrite: 'true' })).body?.name).toBe('a.png');
    expect(readFileSync(path.join(comfy.inputDir, 'a.png'), 'utf8')).toBe('four');
  });

  it('reuses the name for identical bytes', async () => {
    await upload({ bytes: 'same' });
    expect((await upload({ bytes: 'same' })).body?.name).toBe('a.png');
    expect(existsSync(path.join(comfy.inputDir, 'a (1).png'))).toBe(false);
  });

  it('counts only "true" and "1" as overwrite', async () => {
    await upload({ bytes: 'one' });
    expect((await upload({ bytes: 'two', overwrite: 'yes' })).body?.name).toBe('a (1).png');
    expect((await upload({ bytes: 'two', overwrite: '1' })).body?.name).toBe('a.png');
  });

  it.each([
    ['a subfolder that climbs out', { bytes: 'x', subfolder: '../../etc' }],
    ['no file part', { subfolder: 'x' }],
    ['an empty filename', { bytes: 'x', filename: '' }],
  ])('answers 400 to %s', async (_label, fields) => {
    expect((await upload(fields)).status).toBe(400);
  });
});
