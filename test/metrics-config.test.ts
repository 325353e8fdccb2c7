import { describe, expect, it } from 'vitest';
import { parseConfig, type StartFiles } from '../lib/config.js';

const required = { COMFYUI_BASE_URL: 'http://comfy', COMFYUI_OUTPUT_DIR: '/outputs', LHW_TASK_NAME: 'execute-comfyui-workflow' };
// The output folder is not checked here: these tests are about the metrics variables.
const files: StartFiles = { pem: () => Buffer.alloc(0), folder: () => undefined };
const problems = (env: Record<string, string>) => {
  const result = parseConfig({ ...required, ...env }, files);
  return result.ok ? [] : result.problems;
};

describe('metrics configuration', () => {
  it('is off by default, with no backlog measured', () => {
    const result = parseConfig(required, files);
    expect(result.ok && result.config.metrics).toEqual({ format: 'off', backlogIntervalMs: 0 });
  });

  it('takes emf and a backlog interval in seconds', () => {
    const result = parseConfig({ ...required, COMFYUI_WORKER_METRICS: 'emf', COMFYUI_WORKER_BACKLOG_INTERVAL_SEC: '30' }, files);
    expect(result.ok && result.config.metrics).toEqual({ format: 'emf', backlogIntervalMs: 30_000 });
  });

  it('names the variable and its choices when the format is unknown', () => {
    expect(problems({ COMFYUI_WORKER_METRICS: 'prometheus' }).join('\n')).toMatch(/COMFYUI_WORKER_METRICS=prometheus: expects off or emf/);
  });

  it('refuses a backlog interval while metrics are off, saying what to set', () => {
    expect(problems({ COMFYUI_WORKER_BACKLOG_INTERVAL_SEC: '30' }).join('\n')).toMatch(/COMFYUI_WORKER_METRICS=emf/);
  });
});
