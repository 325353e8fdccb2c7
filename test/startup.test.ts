import { describe, expect, it } from 'vitest';
import type { Clock } from '../functions/execute-comfyui-workflow/ports.js';
import { type Dependency, waitForDependencies } from '../lib/startup.js';

/** A clock whose sleeps pass at once, moving time on by what they asked for. */
function fakeClock(): Clock {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      now += ms;
      await Promise.resolve();
    },
  };
}

interface Line {
  level: string;
  message: string;
  extra: Record<string, unknown>;
}

function recorder() {
  const lines: Line[] = [];
  const at = (level: string) => (message: string, ...extra: Record<string, unknown>[]) => lines.push({ level, message, extra: Object.assign({}, ...extra) });
  return { lines, logger: { debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') } };
}

/** A dependency whose tries fail with the problems given, one per try (the last one repeats), or succeed on `readyAt`. */
function dependency(name: string, problems: string[], options: Partial<Dependency> & { readyAt?: number; fatalAt?: number } = {}): Dependency {
  let tries = 0;
  return {
    name,
    address: `${name.toLowerCase()}:1`,
    attempt: async () => {
      tries++;
      if (tries === options.readyAt) return;
      throw new Error(problems[Math.min(tries, problems.length) - 1]);
    },
    diagnose: (error) => ({ problem: (error as Error).message, fatal: tries === options.fatalAt ? 3 : undefined }),
    timeoutMs: 35_000,
    timeout: { exitCode: 4, setting: `${name.toUpperCase()}_TIMEOUT_SEC` },
    retryDelayMs: () => 1_000,
    ...options,
  };
}

const options = (logger: ReturnType<typeof recorder>['logger'], signal = new AbortController().signal) => ({ logger, clock: fakeClock(), signal, reportEveryMs: 10_000 });

describe('waiting for the dependencies at start-up', () => {
  it('logs the first failure, then the same problem again only every reportEveryMs, then gives up with its exit code', async () => {
    const { lines, logger } = recorder();
    const result = await waitForDependencies([dependency('ComfyUI', ['connection refused'])], options(logger));
    expect(result).toEqual({ ready: false, exitCode: 4 });
    expect(lines.filter((l) => l.level === 'INFO').map((l) => [l.message.split(' at ')[0], l.extra.waitedMs])).toEqual([
      ['waiting for ComfyUI', 0],
      ['still waiting for ComfyUI', 10_000],
      ['still waiting for ComfyUI', 20_000],
      ['still waiting for ComfyUI', 30_000],
    ]);
    expect(lines.at(-1)).toMatchObject({ level: 'ERROR', message: 'ComfyUI at comfyui:1 was not ready within COMFYUI_TIMEOUT_SEC=35 s: connection refused' });
  });

  it('says a new problem at once', async () => {
    const { lines, logger } = recorder();
    await waitForDependencies([dependency('ComfyUI', ['connection refused', 'connection refused', 'HTTP 500'], { readyAt: 5 })], options(logger));
    expect(lines.map((l) => l.message)).toEqual([
      'waiting for ComfyUI at comfyui:1: connection refused',
      'still waiting for ComfyUI at comfyui:1: HTTP 500',
      'ComfyUI at comfyui:1 is ready',
    ]);
  });

  it('says nothing when every dependency answers the first time', async () => {
    const { lines, logger } = recorder();
    const result = await waitForDependencies([dependency('ComfyUI', [], { readyAt: 1 }), dependency('LittleHorse', [], { readyAt: 1 })], options(logger));
    expect(result).toEqual({ ready: true });
    expect(lines).toEqual([]);
  });

  it('waits for both at once, and a refusal no retry can fix ends the wait for both, naming what the other was waiting for', async () => {
    const { lines, logger } = recorder();
    const result = await waitForDependencies(
      [dependency('ComfyUI', ['connection refused']), dependency('LittleHorse', ['PERMISSION_DENIED: check LHC_TENANT_ID'], { fatalAt: 2 })],
      options(logger),
    );
    expect(result).toEqual({ ready: false, exitCode: 3 });
    expect(lines.map((l) => `${l.level} ${l.message}`)).toEqual([
      'INFO waiting for ComfyUI at comfyui:1: connection refused',
      'INFO waiting for LittleHorse at littlehorse:1: PERMISSION_DENIED: check LHC_TENANT_ID',
      'ERROR LittleHorse at littlehorse:1 refused the worker: PERMISSION_DENIED: check LHC_TENANT_ID',
      'ERROR ComfyUI at comfyui:1 was not ready either: connection refused',
    ]);
  });

  it('ends without an exit code of its own when the worker is stopped', async () => {
    const { lines, logger } = recorder();
    const stop = new AbortController();
    const waiting = waitForDependencies([dependency('ComfyUI', ['connection refused'])], options(logger, stop.signal));
    stop.abort();
    expect(await waiting).toEqual({ ready: false });
    expect(lines.filter((l) => l.level === 'ERROR')).toEqual([]);
  });
});
