import { ExitCode } from '../exit-codes.js';
import type { Dependency, Diagnosis } from '../startup.js';

/** The longest one readiness probe may take: a ComfyUI that accepts connections but never answers. */
const PROBE_TIMEOUT_MS = 5_000;

export interface ComfyReadinessOptions {
  baseUrl: string;
  /** One GET /system_stats without retries (peers use the same probe); resolves when ComfyUI answers. */
  probe: (signal: AbortSignal) => Promise<unknown>;
  timeoutMs: number;
}

/** ComfyUI as a start-up dependency: ready once GET /system_stats answers. */
export function comfyDependency({ baseUrl, probe, timeoutMs }: ComfyReadinessOptions): Dependency {
  return {
    name: 'ComfyUI',
    address: baseUrl,
    attempt: async (signal) => {
      await probe(AbortSignal.any([signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]));
    },
    diagnose: (error) => diagnose(error, baseUrl),
    timeoutMs,
    timeout: { exitCode: ExitCode.COMFYUI_NOT_READY, setting: 'COMFYUI_START_TIMEOUT_SEC' },
    retryDelayMs: () => 1_000,
  };
}

function diagnose(error: unknown, baseUrl: string): Diagnosis {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // ComfyUI opens its port only once every custom node is imported (main.py `start_comfyui`: the
  // nodes load before the server starts listening), which can take minutes on a fresh machine.
  if (text.includes('ECONNREFUSED')) {
    return { problem: 'connection refused: ComfyUI may still be loading its custom nodes (it listens once they are loaded); otherwise check COMFYUI_BASE_URL' };
  }
  if (text.includes('ENOTFOUND') || text.includes('EAI_AGAIN')) {
    return { problem: `the host name of ${new URL(baseUrl).hostname} does not resolve; check COMFYUI_BASE_URL` };
  }
  if (text.includes('TimeoutError') || text.includes('did not answer')) {
    return { problem: `no answer to GET /system_stats within ${PROBE_TIMEOUT_MS / 1000} s; ComfyUI may be busy starting` };
  }
  return { problem: error instanceof Error ? error.message : text };
}
