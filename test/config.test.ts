import { describe, expect, it } from 'vitest';
import { ENV_NAMES, envSchema, parseConfig } from '../lib/config.js';

const required = { COMFYUI_BASE_URL: 'http://comfy', COMFYUI_OUTPUT_DIR: '/outputs', LHW_TASK_NAME: 'execute-comfyui-workflow' };

describe('configuration from the environment', () => {
  it('applies the documented defaults when only the required variables are set', () => {
    const result = parseConfig(required);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { comfy, worker, littlehorse } = result.config;
    expect(comfy.baseUrl).toBe('http://comfy');
    expect(comfy.outputDir).toBe('/outputs');
    expect(comfy.pollIntervalMs).toBe(2_000);
    expect(comfy.historyTimeoutMs).toBe(600_000);
    expect(comfy.httpTimeoutMs).toBe(30_000);
    expect(comfy.httpRetries).toBe(3);
    expect(comfy.liveEvents).toBe(true);
    expect(worker.runMode).toBe('service');
    expect(worker.workerId).toMatch(/^comfyui-worker-/);
    expect(littlehorse).toMatchObject({ host: 'localhost', port: 2023, protocol: 'PLAINTEXT', tenantId: 'default' });
  });

  it('reports every problem at once, each naming its variable', () => {
    const result = parseConfig({ COMFYUI_POLL_INTERVAL_SEC: 'soon', LHC_API_PROTOCOL: 'tls', LHW_NUM_WORKER_THREADS: '4' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.problems.join('\n');
    for (const name of ['COMFYUI_BASE_URL', 'COMFYUI_OUTPUT_DIR', 'LHW_TASK_NAME', 'COMFYUI_POLL_INTERVAL_SEC', 'LHC_API_PROTOCOL', 'LHW_NUM_WORKER_THREADS']) {
      expect(text).toContain(name);
    }
  });

  it('treats an empty variable as unset', () => {
    const result = parseConfig({ ...required, COMFYUI_HTTP_RETRIES: '', LHC_API_HOST: '' });
    expect(result.ok && result.config.comfy.httpRetries).toBe(3);
    expect(result.ok && result.config.littlehorse.host).toBe('localhost');
  });

  it('refuses half of an OAuth or mutual-TLS setting', () => {
    const result = parseConfig({ ...required, LHC_OAUTH_CLIENT_ID: 'id', LHC_CLIENT_CERT: '/c.pem', LHC_API_PROTOCOL: 'TLS' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.join('\n')).toMatch(/LHC_OAUTH_CLIENT_SECRET/);
    expect(result.problems.join('\n')).toMatch(/LHC_CLIENT_KEY/);
  });

  it('knows exactly three required variables', () => {
    const requiredNames = ENV_NAMES.filter((name) => !envSchema.shape[name].safeParse(undefined).success);
    expect(requiredNames.sort()).toEqual(['COMFYUI_BASE_URL', 'COMFYUI_OUTPUT_DIR', 'LHW_TASK_NAME']);
  });
});
