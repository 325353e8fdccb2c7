import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWorker } from '../lib/worker.js';

const env = {
  LHW_TASK_NAME: 'execute-comfyui-workflow',
  LHW_NUM_WORKER_THREADS: '1',
  COMFYUI_BASE_URL: 'http://comfy',
  COMFYUI_OUTPUT_DIR: mkdtempSync(path.join(tmpdir(), 'comfyui-worker-outputs-')),
};

describe('building the worker', () => {
  it('builds a runner for the task named by LHW_TASK_NAME', () => {
    const built = buildWorker(env);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.worker.config.worker.taskName).toBe('execute-comfyui-workflow');
    built.worker.close();
  });

  it('refuses to build without LHW_TASK_NAME', () => {
    const built = buildWorker({ ...env, LHW_TASK_NAME: undefined });
    expect(built.ok).toBe(false);
    expect(!built.ok && built.problems.join('\n')).toContain('LHW_TASK_NAME is required');
  });

  it('refuses more than one worker thread, saying why', () => {
    const built = buildWorker({ ...env, LHW_NUM_WORKER_THREADS: '2' });
    expect(built.ok).toBe(false);
    expect(!built.ok && built.problems.join('\n')).toMatch(/LHW_NUM_WORKER_THREADS=2: must be 1: ComfyUI runs one prompt at a time/);
  });

  it('names an unreadable CA certificate file', () => {
    const built = buildWorker({ ...env, LHC_API_PROTOCOL: 'TLS', LHC_CA_CERT: '/nonexistent/ca.pem' });
    expect(!built.ok && built.problems.join('\n')).toContain('LHC_CA_CERT=/nonexistent/ca.pem: cannot read it (does not exist)');
  });
});
