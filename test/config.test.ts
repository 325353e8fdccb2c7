import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_NAMES, envSchema, parseConfig } from '../lib/config.js';

const scratch = () => mkdtempSync(path.join(tmpdir(), 'comfyui-worker-config-'));
const required = () => ({ COMFYUI_BASE_URL: 'http://comfy', COMFYUI_OUTPUT_DIR: scratch(), LHW_TASK_NAME: 'execute-comfyui-workflow' });
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function problemsOf(env: NodeJS.ProcessEnv): string {
  const result = parseConfig(env);
  if (result.ok) throw new Error('expected the configuration to be refused');
  return result.problems.join('\n');
}

describe('configuration from the environment', () => {
  it('applies the documented defaults when only the required variables are set', () => {
    const env = required();
    const result = parseConfig(env);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { comfy, worker, littlehorse } = result.config;
    expect(comfy.baseUrl).toBe('http://comfy');
    expect(comfy.outputDir).toBe(env.COMFYUI_OUTPUT_DIR);
    expect(comfy.pollIntervalMs).toBe(2_000);
    expect(comfy.historyTimeoutMs).toBe(600_000);
    expect(comfy.httpTimeoutMs).toBe(30_000);
    expect(comfy.httpRetries).toBe(3);
    expect(comfy.liveEvents).toBe(true);
    expect(comfy.downloadMaxBytes).toBe(2 * 1024 ** 3);
    expect(worker.runMode).toBe('service');
    expect(worker.workerId).toMatch(/^comfyui-worker-/);
    expect(littlehorse).toMatchObject({ host: 'localhost', port: 2023, protocol: 'PLAINTEXT', tenantId: 'default', certificates: {} });
  });

  it('reports every problem at once, each naming its variable', () => {
    const text = problemsOf({ COMFYUI_POLL_INTERVAL_SEC: 'soon', LHC_API_PROTOCOL: 'tls', LHW_NUM_WORKER_THREADS: '4' });
    for (const name of ['COMFYUI_BASE_URL', 'COMFYUI_OUTPUT_DIR', 'LHW_TASK_NAME', 'COMFYUI_POLL_INTERVAL_SEC', 'LHC_API_PROTOCOL', 'LHW_NUM_WORKER_THREADS']) {
      expect(text).toContain(name);
    }
  });

  it('reports rules between variables in the same run as a missing variable', () => {
    const text = problemsOf({ ...required(), COMFYUI_OUTPUT_DIR: undefined, LHC_CA_CERT: '/ca.pem', LHW_MAX_TASKS: '3' });
    expect(text).toContain('COMFYUI_OUTPUT_DIR is required');
    expect(text).toMatch(/LHC_CA_CERT is set but LHC_API_PROTOCOL=PLAINTEXT/);
    expect(text).toMatch(/LHW_MAX_TASKS=3 apply only to LHW_RUN_MODE=job/);
  });

  it('reports an unreadable certificate in the same run as a bad value', () => {
    const text = problemsOf({ ...required(), COMFYUI_HTTP_TIMEOUT_SEC: '0', LHC_API_PROTOCOL: 'TLS', LHC_CA_CERT: '/nonexistent/ca.pem' });
    expect(text).toContain('COMFYUI_HTTP_TIMEOUT_SEC=0');
    expect(text).toContain('LHC_CA_CERT=/nonexistent/ca.pem: cannot read it (does not exist)');
  });

  it('treats an empty variable as unset', () => {
    const result = parseConfig({ ...required(), COMFYUI_HTTP_RETRIES: '', LHC_API_HOST: '' });
    expect(result.ok && result.config.comfy.httpRetries).toBe(3);
    expect(result.ok && result.config.littlehorse.host).toBe('localhost');
  });

  it('knows exactly three required variables', () => {
    const requiredNames = ENV_NAMES.filter((name) => !envSchema.shape[name].safeParse(undefined).success);
    expect(requiredNames.sort()).toEqual(['COMFYUI_BASE_URL', 'COMFYUI_OUTPUT_DIR', 'LHW_TASK_NAME']);
  });
});

describe('values that cannot work', () => {
  it.each(['COMFYUI_HTTP_TIMEOUT_SEC', 'COMFYUI_HISTORY_TIMEOUT_SEC', 'COMFYUI_POLL_INTERVAL_SEC', 'COMFYUI_WATCHDOG_INTERVAL_SEC', 'COMFYUI_DOWNLOAD_MAX_BYTES'])(
    'refuses %s=0 and accepts 1',
    (name) => {
      expect(problemsOf({ ...required(), [name]: '0' })).toMatch(new RegExp(`^${name}=0: expects whole \\w+ ≥ 1$`));
      expect(parseConfig({ ...required(), [name]: '1' }).ok).toBe(true);
    },
  );

  it('refuses a job runtime budget that does not outlast the shutdown grace period and the 2 s to report', () => {
    const job = { ...required(), LHW_RUN_MODE: 'job', LHW_SHUTDOWN_GRACE_SEC: '8' };
    expect(problemsOf({ ...job, LHW_MAX_RUNTIME_SEC: '5' })).toMatch(/LHW_MAX_RUNTIME_SEC=5 leaves no time to work.*set it above 10/);
    expect(problemsOf({ ...job, LHW_MAX_RUNTIME_SEC: '10' })).toContain('LHW_MAX_RUNTIME_SEC=10');
    expect(parseConfig({ ...job, LHW_MAX_RUNTIME_SEC: '11' }).ok).toBe(true);
  });

  it('refuses LHW_MAX_TASKS and LHW_MAX_RUNTIME_SEC outside job mode', () => {
    expect(problemsOf({ ...required(), LHW_MAX_RUNTIME_SEC: '600' })).toMatch(/LHW_MAX_RUNTIME_SEC=600 apply only to LHW_RUN_MODE=job \(it is service\)/);
  });

  it('refuses half of an OAuth or mutual-TLS setting', () => {
    const text = problemsOf({ ...required(), LHC_OAUTH_CLIENT_ID: 'id', LHC_CLIENT_CERT: '/c.pem', LHC_API_PROTOCOL: 'TLS' });
    expect(text).toMatch(/only LHC_OAUTH_CLIENT_ID is set/);
    expect(text).toMatch(/LHC_CLIENT_CERT is set without LHC_CLIENT_KEY/);
  });
});

describe('messages about a bad value', () => {
  it('show the value read, and tell a URL without a scheme from one that is not a URL', () => {
    const noScheme = problemsOf({ ...required(), COMFYUI_BASE_URL: '127.0.0.1:8188' });
    const notUrl = problemsOf({ ...required(), COMFYUI_BASE_URL: 'not-a-url' });
    expect(noScheme).toBe('COMFYUI_BASE_URL=127.0.0.1:8188: expects an http(s) URL with its scheme, e.g. http://127.0.0.1:8188');
    expect(notUrl).toContain('COMFYUI_BASE_URL=not-a-url:');
    expect(notUrl).not.toBe(noScheme.replace('127.0.0.1:8188', 'not-a-url'));
  });

  it('quote a value with spaces', () => {
    expect(problemsOf({ ...required(), LHW_TASK_NAME: 'my task' })).toContain('LHW_TASK_NAME="my task": expects letters, digits and inner hyphens');
  });

  it('point out an enum spelled in the wrong case', () => {
    expect(problemsOf({ ...required(), LHC_API_PROTOCOL: 'tls' })).toBe('LHC_API_PROTOCOL=tls: expects PLAINTEXT or TLS (case-sensitive): did you mean TLS?');
  });

  it('never show a secret', () => {
    const text = problemsOf({ ...required(), LHC_OAUTH_CLIENT_SECRET: 's3cr3t-value', LHC_OAUTH_CLIENT_ID: 'client-id-value' });
    expect(text).toContain('LHC_OAUTH_ACCESS_TOKEN_URL');
    expect(text).not.toContain('s3cr3t-value');
    expect(text).not.toContain('client-id-value');
  });
});

describe('files read at start', () => {
  it('refuses an output folder that does not exist', () => {
    expect(problemsOf({ ...required(), COMFYUI_OUTPUT_DIR: '/nonexistent/outputs' })).toMatch(/^COMFYUI_OUTPUT_DIR=\/nonexistent\/outputs: does not exist/);
  });

  it('refuses a file given as the output folder', () => {
    const file = path.join(scratch(), 'file.txt');
    writeFileSync(file, 'x');
    expect(problemsOf({ ...required(), COMFYUI_OUTPUT_DIR: file })).toContain(`COMFYUI_OUTPUT_DIR=${file}: not a folder`);
  });

  it('creates a missing output folder when it downloads outputs', () => {
    const folder = path.join(scratch(), 'downloads', 'nested');
    expect(parseConfig({ ...required(), COMFYUI_OUTPUT_DIR: folder, COMFYUI_DOWNLOAD_OUTPUTS: 'true' }).ok).toBe(true);
    expect(existsSync(folder)).toBe(true);
  });

  it.skipIf(process.getuid?.() === 0)('refuses an output folder it cannot write to when it downloads outputs', () => {
    const folder = scratch();
    chmodSync(folder, 0o555);
    expect(parseConfig({ ...required(), COMFYUI_OUTPUT_DIR: folder }).ok).toBe(true);
    expect(problemsOf({ ...required(), COMFYUI_OUTPUT_DIR: folder, COMFYUI_DOWNLOAD_OUTPUTS: 'true' })).toContain(`COMFYUI_OUTPUT_DIR=${folder}: permission denied`);
  });

  it('reads the certificates into the configuration with TLS', () => {
    const folder = scratch();
    for (const name of ['ca.pem', 'client.pem', 'client-key.pem']) writeFileSync(path.join(folder, name), PEM);
    const result = parseConfig({
      ...required(),
      LHC_API_PROTOCOL: 'TLS',
      LHC_CA_CERT: path.join(folder, 'ca.pem'),
      LHC_CLIENT_CERT: path.join(folder, 'client.pem'),
      LHC_CLIENT_KEY: path.join(folder, 'client-key.pem'),
    });
    expect(result.ok && result.config.littlehorse.certificates.ca?.toString()).toBe(PEM);
    expect(result.ok && Object.keys(result.config.littlehorse.certificates)).toEqual(['ca', 'cert', 'key']);
  });

  it('reads the certificates even when LHC_API_PROTOCOL is misspelt, so that both problems show at once', () => {
    const text = problemsOf({ ...required(), LHC_API_PROTOCOL: 'tls', LHC_CA_CERT: '/nonexistent/ca.pem' });
    expect(text).toContain('LHC_API_PROTOCOL=tls');
    expect(text).toContain('LHC_CA_CERT=/nonexistent/ca.pem: cannot read it (does not exist)');
  });

  it('refuses a certificate file that is not PEM', () => {
    const file = path.join(scratch(), 'ca.der');
    writeFileSync(file, Buffer.from([0x30, 0x82, 0x01]));
    expect(problemsOf({ ...required(), LHC_API_PROTOCOL: 'TLS', LHC_CA_CERT: file })).toContain(`LHC_CA_CERT=${file}: cannot read it (not a PEM file`);
  });
});
