import { afterEach, beforeEach } from 'vitest';
import { type FakeComfy, type FakeComfyOptions, startFakeComfy } from '../../devstack/comfyui/index.js';
import type { HandlerDeps, HandlerSettings } from '../../functions/execute-comfyui-workflow/ports.js';
import { sleep } from '../../lib/backoff.js';
import { ComfyClient } from '../../lib/comfyui/client.js';
import { viewDownloader } from '../../lib/comfyui/download.js';
import { ComfyHttp } from '../../lib/comfyui/http.js';
import { LiveSocket, type LiveSocketOptions } from '../../lib/comfyui/live-socket.js';

export const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Harness {
  deps: HandlerDeps;
  lines: string[];
  live: LiveSocket | undefined;
  close(): void;
}

/** Real adapters (HTTP client, WebSocket) pointed at the fake ComfyUI; the handler's log captured. */
export async function handlerHarness(
  comfy: FakeComfy,
  options: {
    live?: boolean;
    socket?: Partial<LiveSocketOptions>;
    download?: { outputDir: string; maxBytes?: number };
    settings?: Partial<HandlerSettings>;
    signal?: AbortSignal;
  } = {},
): Promise<Harness> {
  const live =
    options.live === false
      ? undefined
      : new LiveSocket({ baseUrl: comfy.url, clientId: `test-${Math.random()}`, logger: quietLogger, pingIntervalMs: 500, pongTimeoutMs: 500, ...options.socket });
  const http = new ComfyHttp({ baseUrl: comfy.url, timeoutMs: 2_000, retries: 1, onAnswer: live && (() => live.reconnectNow()) });
  if (live) {
    live.start();
    await live.waitUntilConnected(2_000);
  }
  const lines: string[] = [];
  const deps: HandlerDeps = {
    comfy: new ComfyClient(http),
    live,
    download: options.download ? viewDownloader(http, options.download.maxBytes ?? 1_000_000) : undefined,
    log: (line) => lines.push(line),
    logger: quietLogger,
    clock: { now: Date.now, sleep },
    signal: options.signal ?? new AbortController().signal,
    settings: {
      outputDir: options.download?.outputDir ?? comfy.outputDir,
      pollIntervalMs: 100,
      historyTimeoutMs: 10_000,
      watchdogIntervalMs: 300,
      includeTempOutputs: false,
      allowPartial: false,
      outputPerTask: false,
      ...options.settings,
    },
  };
  return { deps, lines, live, close: () => (live?.close(), http.close()) };
}

/**
 * A simulated ComfyUI started before each test and stopped after it, and the handler harness a test
 * builds on it (`harness()`), closed first.
 */
export function comfyPerTest(options: FakeComfyOptions) {
  let comfy: FakeComfy | undefined;
  let harness: Harness | undefined;
  beforeEach(async () => {
    comfy = await startFakeComfy(options);
  });
  afterEach(async () => {
    harness?.close();
    harness = undefined;
    await comfy?.stop();
  });
  return {
    get comfy(): FakeComfy {
      if (!comfy) throw new Error('the simulated ComfyUI starts before each test');
      return comfy;
    },
    async harness(harnessOptions?: Parameters<typeof handlerHarness>[1]): Promise<Harness> {
      harness = await handlerHarness(this.comfy, harnessOptions);
      return harness;
    },
  };
}
