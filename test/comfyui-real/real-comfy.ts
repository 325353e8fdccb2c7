import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The team's kit for running ComfyUI here (start script, stubs for packages Debian lacks, a placeholder
 * frontend) lives beside the repository in shared/realstack/; REAL_COMFYUI_REALSTACK points elsewhere.
 */
const REALSTACK = process.env.REAL_COMFYUI_REALSTACK || path.resolve(import.meta.dirname, '../../../shared/realstack');
const START_SCRIPT = path.join(REALSTACK, 'start-comfyui.sh');
const READY_TIMEOUT_MS = 120_000;

/** What to set when there is no ComfyUI to test against: the suite fails at once with this. */
export const NEEDS_COMFYUI =
  'npm run test:comfyui needs a real ComfyUI. Set REAL_COMFYUI_DIR to a folder with ComfyUI\'s own code (main.py; see test/comfyui-real/README.md), ' +
  'which the suite starts on CPU with shared/realstack/start-comfyui.sh beside the repository (REAL_COMFYUI_REALSTACK to point elsewhere), or REAL_COMFYUI_URL to one already running ' +
  '(with REAL_COMFYUI_OUTPUT_DIR and REAL_COMFYUI_TEMP_DIR when its output and temp folders are on this machine, the temp folder being <--temp-directory>/temp; otherwise outputs are downloaded through /view).';

/** Which ComfyUI the suite runs against, from the environment; undefined when none is given. */
export function comfyTarget(env: NodeJS.ProcessEnv = process.env): { dir: string } | { url: string; outputDir?: string; tempDir?: string } | undefined {
  if (env.REAL_COMFYUI_URL) return { url: env.REAL_COMFYUI_URL.replace(/\/+$/, ''), outputDir: env.REAL_COMFYUI_OUTPUT_DIR || undefined, tempDir: env.REAL_COMFYUI_TEMP_DIR || undefined };
  if (env.REAL_COMFYUI_DIR) return { dir: env.REAL_COMFYUI_DIR };
  return undefined;
}

export interface RealComfy {
  url: string;
  /** ComfyUI's output folder, when it is on this machine. */
  outputDir: string | undefined;
  tempDir: string | undefined;
  /** Whether this suite started it (and so can kill and restart it). */
  owned: boolean;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folders; resolves once it answers. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function waitUntilAnswering(url: string, timeoutMs = READY_TIMEOUT_MS, exited?: Promise<unknown>): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  while (Date.now() < giveUpAt && !gone) {
    try {
      if ((await fetch(`${url}/system_stats`, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(gone ? `ComfyUI at ${url} exited before answering` : `ComfyUI at ${url} did not answer GET /system_stats within ${timeoutMs / 1000} s`);
}

/** The ComfyUI the environment names: one already running, or ComfyUI's code started here on CPU. */
export async function realComfy(): Promise<RealComfy> {
  const target = comfyTarget();
  if (!target) throw new Error(NEEDS_COMFYUI);
  if ('url' in target) {
    await waitUntilAnswering(target.url, 10_000);
    const refuse = async () => {
      throw new Error('ComfyUI at REAL_COMFYUI_URL is not ours to kill or restart');
    };
    return { url: target.url, outputDir: target.outputDir, tempDir: target.tempDir, owned: false, kill: refuse, start: refuse, stop: async () => undefined };
  }
  const port = await freePort();
  const root = mkdtempSync(path.join(tmpdir(), 'comfyui-real-'));
  const outputDir = path.join(root, 'output');
  const stateDir = path.join(root, 'state');
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  let log = '';
  const start = async () => {
    child = spawn('bash', [START_SCRIPT, String(port), outputDir, stateDir], {
      env: { ...process.env, COMFYUI_DIR: target.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    exited = new Promise((resolve) => child!.once('exit', resolve));
    try {
      await waitUntilAnswering(url, READY_TIMEOUT_MS, exited);
    } catch (error) {
      throw new Error(`${(error as Error).message}; its last output:\n${log}`);
    }
  };
  const kill = async () => {
    child?.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    outputDir,
    tempDir: path.join(stateDir, 'temp', 'temp'), // ComfyUI puts its temp files in <--temp-directory>/temp
    owned: true,
    kill,
    start,
    stop: async () => {
      child?.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      child?.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    },
  };
}
