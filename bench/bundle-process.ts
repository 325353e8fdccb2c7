import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export const bundlePath = path.resolve(import.meta.dirname, '../dist/runner.js');

export interface BundleProcess {
  child: ChildProcess;
  pid: number;
  /** performance.now() just before spawn. */
  spawnedAt: number;
  /** performance.now() when the worker logged "worker ready". */
  ready: Promise<number>;
  /** The inspector's WebSocket address, when started with --inspect. */
  inspectorUrl: Promise<string>;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * The bundle as production runs it: copied alone into an empty folder and started with plain
 * `node runner.js`. Its log lines go down a pipe, as they do in a container, and are only scanned
 * for readiness (parsing every line here would steal CPU from the process being measured).
 */
export function startBundle(env: Record<string, string>, nodeArgs: string[] = []): BundleProcess {
  const folder = mkdtempSync(path.join(tmpdir(), 'comfyui-worker-bench-'));
  copyFileSync(bundlePath, path.join(folder, 'runner.js'));
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, 'runner.js'], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  let stderrText = '';
  let foundInspector: (url: string) => void = () => undefined;
  const inspectorUrl = new Promise<string>((resolve) => (foundInspector = resolve));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<number>((resolve, reject) => {
    let seen = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (seen) return;
      tail = (tail + chunk.toString('utf8')).slice(-4096);
      if (tail.includes('"event":"worker-ready"')) {
        seen = true;
        resolve(performance.now());
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-4096);
      if (stderrText.length < 4096) stderrText += text;
      const url = /Debugger listening on (ws:\/\/\S+)/.exec(stderrText)?.[1];
      if (url) foundInspector(url);
    });
    void exited.then((code) => {
      if (!seen) reject(new Error(`the worker exited with ${code} before it was ready:\n${tail}`));
    });
  });
  ready.catch(() => undefined);
  return {
    child,
    pid: child.pid!,
    spawnedAt,
    ready,
    inspectorUrl,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
