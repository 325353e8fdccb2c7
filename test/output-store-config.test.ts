import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config.js';
import { objectKey } from '../lib/storage/object-key.js';

const base = { COMFYUI_BASE_URL: 'http://127.0.0.1:8188', COMFYUI_OUTPUT_DIR: '/tmp', LHW_TASK_NAME: 'work' };
const storeOf = (env: Record<string, string>) => {
  const parsed = parseConfig({ ...base, ...env });
  return parsed.ok ? parsed.config.outputStore : parsed.problems.join('; ');
};

describe('output storage settings', () => {
  it('stores nothing unless COMFYUI_OUTPUT_STORE is set', () => expect(storeOf({})).toBeUndefined());

  it('splits the bucket from the prefix, which always ends in a slash', () => {
    expect(storeOf({ COMFYUI_OUTPUT_STORE: 's3://my-bucket/comfy/out' })).toMatchObject({ bucket: 'my-bucket', prefix: 'comfy/out/' });
    expect(storeOf({ COMFYUI_OUTPUT_STORE: 's3://my-bucket' })).toMatchObject({ bucket: 'my-bucket', prefix: '' });
  });

  it.each([
    ['a store that is not s3://', { COMFYUI_OUTPUT_STORE: 'https://bucket/x' }, 'COMFYUI_OUTPUT_STORE'],
    ['a key template that would put two outputs under one key', { COMFYUI_OUTPUT_STORE: 's3://bkt/', COMFYUI_OUTPUT_STORE_KEY: '{taskGuid}' }, '{file} or {filename}'],
    ['an unknown key field', { COMFYUI_OUTPUT_STORE: 's3://bkt/', COMFYUI_OUTPUT_STORE_KEY: '{tenant}/{file}' }, 'knows only'],
    ['a presigned URL longer than S3 allows', { COMFYUI_OUTPUT_STORE: 's3://bkt/', COMFYUI_OUTPUT_STORE_PRESIGN_SEC: '604801' }, 'COMFYUI_OUTPUT_STORE_PRESIGN_SEC'],
  ])('refuses %s, naming the variable', (_label, env, expected) => expect(storeOf(env)).toContain(expected));
});

describe('object keys', () => {
  const fields = { wfRunId: 'wf', taskGuid: 'g', nodeId: '9', type: 'output', subfolder: '', filename: 'a.png', file: 'a.png' };
  it('drops the empty segments an empty subfolder leaves', () => expect(objectKey('p/', '{wfRunId}/{subfolder}/{filename}', fields)).toBe('p/wf/a.png'));
});
