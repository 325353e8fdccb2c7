import type { Logger } from '@aws-lambda-powertools/logger';
import { type Config, parseConfig } from './config.js';
import { ComfyClient } from './comfyui/client.js';
import { viewDownloader } from './comfyui/download.js';
import { ComfyHttp } from './comfyui/http.js';
import { LiveSocket } from './comfyui/live-socket.js';
import { LittleHorseConnections } from './littlehorse/connection.js';
import { createLogger } from './logger.js';
import { inputPlacer } from './media/input-placer.js';
import { Runner } from './runner.js';
import { loadTemplates } from './templates/load.js';
import { objectFetcher } from './media/object-source.js';
import { outputSource } from './storage/output-source.js';
import { lazyS3 } from './storage/s3-client.js';
import { s3OutputStore } from './storage/s3-output-store.js';
import { EmfMetrics } from './metrics/emf.js';
import { noMetrics } from './metrics/task-metrics.js';

export interface Worker {
  config: Config;
  logger: Logger;
  runner: Runner;
  /** Releases every connection (HTTP pool, socket, gRPC channels). */
  close(): void;
}

export type BuiltWorker = { ok: true; worker: Worker } | { ok: false; problems: string[] };

/**
 * The composition root: env → config → the adapters (ComfyUI over HTTP and WebSocket, LittleHorse
 * over gRPC) → the runner that feeds tasks to the handler. Nothing connects until runner.run().
 */
export function buildWorker(env: NodeJS.ProcessEnv): BuiltWorker {
  const parsed = parseConfig(env);
  if (!parsed.ok) return parsed;
  const { config } = parsed;
  // A broken template is a configuration error: exit 2, naming the file and the field.
  const templates = loadTemplates({ dir: config.templates.dir, prefix: config.templates.prefix, rawTaskName: config.worker.taskName });
  if (!templates.ok) return templates;
  const logger = createLogger({
    level: config.worker.logLevel,
    workerId: config.worker.workerId,
    format: config.worker.logFormat,
    terminal: process.stdout.isTTY,
  });
  const connections = new LittleHorseConnections(config.littlehorse);
  const live = config.comfy.liveEvents ? new LiveSocket({ baseUrl: config.comfy.baseUrl, clientId: config.worker.workerId, logger }) : undefined;
  const http = new ComfyHttp({
    baseUrl: config.comfy.baseUrl,
    timeoutMs: config.comfy.httpTimeoutMs,
    retries: config.comfy.httpRetries,
    onAnswer: live && (() => live.reconnectNow()),
  });
  const comfy = new ComfyClient(http);
  const download = config.comfy.downloadOutputs ? viewDownloader(http, config.comfy.downloadMaxBytes) : undefined;
  const s3 = lazyS3(config.s3);
  const store = config.outputStore ? s3OutputStore(config.outputStore, s3, outputSource(http)) : undefined;
  const inputs = inputPlacer(config.mediaInputs, config.comfy.baseUrl, config.comfy.httpTimeoutMs, objectFetcher(s3, config.s3));
  const metrics = config.metrics.format === 'emf' ? new EmfMetrics(config.worker.taskName, logger) : noMetrics;
  const runner = new Runner({ config, connections, comfy, live, download, store, inputs, logger, metrics, templates: templates.templates });
  return {
    ok: true,
    worker: {
      config,
      logger,
      runner,
      close: () => {
        live?.close();
        s3.close();
        http.close();
        connections.close();
      },
    },
  };
}
