// `npm run test:real`: the scenarios against a real LittleHorse and a real ComfyUI (see the README,
// "Against real servers"). Never part of `npm test`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ENV_NAMES } from '../../lib/config.js';
import { type Harness, startHarness } from './harness.js';
import { scenarios } from './scenarios.js';

const REQUIRED = ['LHC_API_HOST', 'COMFYUI_BASE_URL', 'COMFYUI_OUTPUT_DIR'];
const root = path.resolve(import.meta.dirname, '../..');

let harness: Harness | undefined;

beforeAll(async () => {
  const missing = REQUIRED.filter((name) => !process.env[name]?.trim());
  if (missing.length > 0) {
    throw new Error(
      `npm run test:real needs a real LittleHorse and a real ComfyUI: set ${missing.join(', ')} ` +
        '(and any other LHC_* the server needs); see "Against real servers" in README.md.',
    );
  }
  // Every worker variable that is set goes to the worker; a TaskDef of its own keeps other workers away.
  const workerEnv = Object.fromEntries(ENV_NAMES.flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : [])));
  workerEnv.LHW_TASK_NAME ??= 'comfyui-worker-test-real';
  const workflowFile = process.env.REAL_COMFYUI_WORKFLOW || path.join(root, 'devstack/workflows/txt2img.json');
  harness = await startHarness({
    workerEnv,
    workflow: JSON.parse(readFileSync(workflowFile, 'utf8')) as unknown,
    taskTimeoutSeconds: Number(process.env.REAL_TASK_TIMEOUT_SEC || 300),
    readyTimeoutMs: 150_000,
  });
});
afterAll(async () => {
  await harness?.stop();
});

describe('against a real LittleHorse and a real ComfyUI', () => {
  for (const [name, scenario] of Object.entries(scenarios)) it(name, () => scenario(harness!));
});
