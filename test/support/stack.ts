import { type FakeComfy, startFakeComfy, type FakeComfyOptions } from '../../devstack/comfyui/index.js';
import { type FakeLittleHorse, type FakeLittleHorseOptions, startFakeLittleHorse } from '../../devstack/littlehorse/index.js';
import txt2img from '../../devstack/workflows/txt2img.json' with { type: 'json' };

export const TASK_NAME = 'execute-comfyui-workflow';
export const sampleWorkflow = txt2img;

export interface Stack {
  lh: FakeLittleHorse;
  comfy: FakeComfy;
  env(extra?: Record<string, string>): Record<string, string>;
  schedule(workflow?: unknown, options?: { timeoutSeconds?: number; retries?: number }): ReturnType<FakeLittleHorse['scheduleTask']>;
  stop(): Promise<void>;
}

/** Both doubles on loopback, and the environment that points the worker at them. */
export async function startStack(options: { lh?: FakeLittleHorseOptions; comfy?: FakeComfyOptions } = {}): Promise<Stack> {
  const lh = await startFakeLittleHorse(options.lh);
  const comfy = await startFakeComfy({ runTimeMs: 100, ...options.comfy });
  return {
    lh,
    comfy,
    env: (extra = {}) => ({
      COMFYUI_BASE_URL: comfy.url,
      COMFYUI_OUTPUT_DIR: comfy.outputDir,
      LHW_TASK_NAME: TASK_NAME,
      LHC_API_HOST: lh.host,
      LHC_API_PORT: String(lh.port),
      COMFYUI_POLL_INTERVAL_SEC: '1',
      COMFYUI_START_TIMEOUT_SEC: '10',
      ...extra,
    }),
    schedule: (workflow = txt2img, scheduleOptions = {}) =>
      lh.scheduleTask({ taskDefName: TASK_NAME, variables: { workflow: { jsonObj: JSON.stringify(workflow) } }, ...scheduleOptions }),
    stop: async () => {
      await lh.stop();
      await comfy.stop();
    },
  };
}
