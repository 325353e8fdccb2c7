import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type MediaInputConfig, mediaInputConfig, mediaInputEnv } from './media/media-config.js';
import { choice, count, filePath, flag, httpUrl, optionalChoice, optionalSeconds, optionalText, required, seconds, stated } from './env-rules.js';
import { localFiles, type StartFiles } from './start-files.js';
import { CERTIFICATES, relations } from './config-relations.js';

export type { StartFiles } from './start-files.js';
import type { S3Connection } from './storage/s3-client.js';
import { outputStoreConfig, outputStoreEnv, type OutputStoreConfig, s3Connection, s3Env } from './storage/store-config.js';

/**
 * Every environment variable the worker reads, with its rule and default: the one source of truth.
 * Each builder (./env-rules.ts) states its rule in the words of the README's table, which a test
 * keeps in step; a variable whose value must never be echoed carries `secret`.
 */
export const envSchema = z.object({
  // ComfyUI
  COMFYUI_BASE_URL: stated(
    required('the base URL of the ComfyUI server, e.g. http://127.0.0.1:8188').pipe(httpUrl('http://127.0.0.1:8188')),
    'an `http://` or `https://` URL',
  ),
  COMFYUI_OUTPUT_DIR: stated(
    required("the folder where ComfyUI's output files are (or are to be downloaded)"),
    'an existing folder, checked at start; with downloads, created if missing and must be writable',
  ),
  COMFYUI_POLL_INTERVAL_SEC: seconds(2, 1),
  COMFYUI_HISTORY_TIMEOUT_SEC: seconds(600, 1),
  COMFYUI_HTTP_TIMEOUT_SEC: seconds(30, 1),
  COMFYUI_HTTP_RETRIES: count(3),
  COMFYUI_LIVE_EVENTS: flag(true),
  COMFYUI_WATCHDOG_INTERVAL_SEC: seconds(15, 1),
  COMFYUI_START_TIMEOUT_SEC: seconds(120),
  COMFYUI_DOWNLOAD_OUTPUTS: flag(false),
  COMFYUI_DOWNLOAD_MAX_BYTES: count(2 * 1024 ** 3, 1, 'bytes'),
  COMFYUI_INCLUDE_TEMP_OUTPUTS: flag(false),
  COMFYUI_ALLOW_PARTIAL: flag(false),
  COMFYUI_OUTPUT_PER_TASK: flag(false),
  COMFYUI_TEMPLATES_DIR: stated(optionalText, 'a folder of `*.json` templates, read at start'),
  ...s3Env,
  ...outputStoreEnv,
  ...mediaInputEnv,
  // Worker
  // LittleHorse refuses any other name with INVALID_ARGUMENT (`LHUtil.isValidLHName`, used by `PutTaskDefRequestModel`).
  LHW_TASK_NAME: stated(
    required('the TaskDef name this worker serves, e.g. execute-comfyui-workflow').regex(
      /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/,
      'expects letters, digits and inner hyphens (LittleHorse names are hostname-like), e.g. execute-comfyui-workflow',
    ),
    'letters, digits and inner hyphens (`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$`)',
  ),
  LHW_TEMPLATE_PREFIX: stated(
    z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][-A-Za-z0-9]*$/, 'expects letters, digits and hyphens, starting with a letter or digit (it begins TaskDef names), e.g. comfyui-')
      .default('comfyui-'),
    'letters, digits and hyphens, starting with a letter or digit',
  ),
  LHW_NUM_WORKER_THREADS: stated(
    z
      .string()
      .trim()
      .default('1')
      .refine((v) => v === '1', 'must be 1: ComfyUI runs one prompt at a time; run more worker processes (one per ComfyUI) to scale')
      .transform(Number),
    '`1`',
  ),
  LHW_TASK_WORKER_ID: stated(optionalText, 'any text'),
  LHW_TASK_WORKER_VERSION: stated(z.string().trim().default(''), 'any text'),
  LHW_RUN_MODE: choice(['service', 'job'], 'service'),
  LHW_IDLE_EXIT_SEC: seconds(60),
  LHW_MAX_TASKS: count(0),
  LHW_MAX_RUNTIME_SEC: optionalSeconds(1),
  LHW_SHUTDOWN_GRACE_SEC: seconds(8),
  LHW_TIMEOUT_MARGIN_SEC: seconds(5),
  // 5 s is inside every server version's inactivity window (15 s before 0.16, 90 s after).
  LHW_HEARTBEAT_INTERVAL_SEC: seconds(5, 1),
  // With several streams (hosts × TaskDefs) the one request rotates: shorter picks tasks up sooner, at more requests per idle second.
  LHW_POLL_ROTATE_MS: count(500, 100, 'ms'),
  COMFYUI_WORKER_METRICS: choice(['off', 'emf'], 'off'),
  COMFYUI_WORKER_BACKLOG_INTERVAL_SEC: seconds(0),
  LOG_LEVEL: choice(['DEBUG', 'INFO', 'WARN', 'ERROR'], 'INFO'),
  LOG_FORMAT: optionalChoice(['json', 'pretty']),
  // LittleHorse connection (LittleHorse's own names and defaults)
  LHC_API_HOST: stated(z.string().trim().min(1).default('localhost'), 'a host name or IP address'),
  LHC_API_PORT: stated(
    z
      .string()
      .trim()
      .regex(/^\d+$/, 'expects a port number between 1 and 65535')
      .default('2023')
      .transform(Number)
      .refine((p) => p > 0 && p < 65536, 'expects a port number between 1 and 65535'),
    '1–65535',
  ),
  LHC_API_PROTOCOL: choice(['PLAINTEXT', 'TLS'], 'PLAINTEXT'),
  LHC_TENANT_ID: stated(z.string().trim().min(1).default('default'), 'any text'),
  LHC_CA_CERT: filePath('a PEM file, read at start'),
  LHC_CLIENT_CERT: filePath('a PEM file, read at start'),
  LHC_CLIENT_KEY: filePath('a PEM file, read at start'),
  LHC_OAUTH_CLIENT_ID: stated(optionalText, 'any text', true),
  LHC_OAUTH_CLIENT_SECRET: stated(optionalText, 'any text', true),
  LHC_OAUTH_ACCESS_TOKEN_URL: stated(httpUrl('https://auth.example.com/token').optional(), 'an `http://` or `https://` URL'),
  LHC_GRPC_KEEPALIVE_TIME_MS: count(45_000, 0, 'ms'),
  LHC_GRPC_KEEPALIVE_TIMEOUT_MS: count(5_000, 0, 'ms'),
  LHC_GRPC_RESOURCE_EXHAUSTED_RETRY: flag(true),
  // grpc-js refuses messages over 4 MiB unless told otherwise. LittleHorse (LHServerListener) keeps
  // grpc-java's 4 MiB per request it receives but sends without a limit, and a task carries all its
  // input variables: 64 MiB leaves room, as the SDKs' variable of this name allows.
  LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH: stated(
    z
      .string()
      .trim()
      .regex(/^(-1|\d+)$/, 'expects a number of bytes, or -1 for no limit')
      .default(String(64 * 1024 ** 2))
      .transform(Number)
      .refine((n) => n !== 0, 'expects a number of bytes above 0, or -1 for no limit'),
    'bytes ≥ 1, or `-1` for no limit',
  ),
});

export type EnvName = keyof typeof envSchema.shape;
export const ENV_NAMES = Object.keys(envSchema.shape) as EnvName[];
export type Env = z.infer<typeof envSchema>;

/** The rules the README's table states for a variable: its own, then those it shares with others. */
export function statedRules(name: EnvName): string[] {
  const own = envSchema.shape[name].meta()?.rule;
  return [...(typeof own === 'string' ? [own] : []), ...relations.flatMap((r) => r.stated[name] ?? [])];
}

const isSecret = (name: EnvName) => envSchema.shape[name].meta()?.secret === true;

export interface ComfyConfig {
  baseUrl: string;
  outputDir: string;
  pollIntervalMs: number;
  historyTimeoutMs: number;
  httpTimeoutMs: number;
  httpRetries: number;
  liveEvents: boolean;
  watchdogIntervalMs: number;
  startTimeoutMs: number;
  downloadOutputs: boolean;
  downloadMaxBytes: number;
  includeTempOutputs: boolean;
  allowPartial: boolean;
  outputPerTask: boolean;
}

export interface TemplatesConfig {
  /** Unset: no templates, raw workflows only. */
  dir: string | undefined;
  /** Begins the TaskDef name of every template. */
  prefix: string;
}

export interface WorkerConfig {
  taskName: string;
  workerId: string;
  workerVersion: string;
  runMode: 'service' | 'job';
  idleExitMs: number;
  /** 0 means no limit. */
  maxTasks: number;
  maxRuntimeMs: number | undefined;
  shutdownGraceMs: number;
  timeoutMarginMs: number;
  /** RegisterTaskWorker period. */
  heartbeatMs: number;
  /** With several PollTask streams, how long the one request stays parked on each. */
  pollRotateMs: number;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Unset: pretty on a terminal, JSON otherwise. */
  logFormat: 'json' | 'pretty' | undefined;
}

export interface MetricsConfig {
  format: 'off' | 'emf';
  /** How often this worker publishes the LittleHorse backlog; 0 means never. */
  backlogIntervalMs: number;
}

export interface LittleHorseConfig {
  host: string;
  port: number;
  protocol: 'PLAINTEXT' | 'TLS';
  tenantId: string;
  /** The PEM files' contents, read at start (TLS only). */
  certificates: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  oauth: { clientId: string; clientSecret: string; tokenUrl: string } | undefined;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** Sleep the delay a RESOURCE_EXHAUSTED answer advertises and call again (unary calls only). */
  resourceExhaustedRetry: boolean;
  /** Largest message accepted from LittleHorse, in bytes; -1 for no limit. */
  maxReceiveMessageLength: number;
}

export interface Config {
  comfy: ComfyConfig;
  templates: TemplatesConfig;
  worker: WorkerConfig;
  littlehorse: LittleHorseConfig;
  /** Undefined when outputs stay where ComfyUI (or the download) put them. */
  outputStore: OutputStoreConfig | undefined;
  mediaInputs: MediaInputConfig;
  s3: S3Connection;
  metrics: MetricsConfig;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

const ms = (sec: number) => sec * 1000;

/** How a value read appears in a message: quoted when it has spaces, cut when long, hidden when secret. */
function shown(name: EnvName, value: string): string {
  if (isSecret(name)) return ' (value hidden)';
  const cut = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return `=${/^[\w.:/@+,~%-]*$/.test(cut) ? cut : JSON.stringify(cut)}`;
}

/**
 * Parses the environment once and reads the files it names; reports every problem at once (each
 * variable, each rule between variables, each file), each naming its variable and the value read.
 */
export function parseConfig(env: NodeJS.ProcessEnv, files: StartFiles = localFiles): ConfigResult {
  const problems: string[] = [];
  const values: Partial<Record<EnvName, unknown>> = {};
  for (const name of ENV_NAMES) {
    // An empty variable is treated as unset, as shells and manifests often leave `FOO=`.
    const raw = env[name]?.trim() === '' ? undefined : env[name];
    const parsed = envSchema.shape[name].safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    else for (const issue of parsed.error.issues) problems.push(raw === undefined ? `${name} ${issue.message}` : `${name}${shown(name, raw)}: ${issue.message}`);
  }
  const e = values as Env;
  for (const relation of relations) {
    if (!relation.reads.every((name) => name in values)) continue;
    const problem = relation.problem(e);
    if (problem) problems.push(problem);
  }
  const read = (name: (typeof CERTIFICATES)[number]): Buffer | undefined => {
    const path = e[name];
    // Read unless the connection is PLAINTEXT (a misspelt protocol too: the certificate's problem joins it).
    if (!path || e.LHC_API_PROTOCOL === 'PLAINTEXT') return undefined;
    try {
      return files.pem(path);
    } catch (error) {
      problems.push(`${name}=${path}: cannot read it (${(error as Error).message})`);
      return undefined;
    }
  };
  const certificates = { ca: read('LHC_CA_CERT'), cert: read('LHC_CLIENT_CERT'), key: read('LHC_CLIENT_KEY') };
  if (e.COMFYUI_OUTPUT_DIR && 'COMFYUI_DOWNLOAD_OUTPUTS' in values) {
    const downloading = e.COMFYUI_DOWNLOAD_OUTPUTS;
    try {
      files.folder(e.COMFYUI_OUTPUT_DIR, { create: downloading, writable: downloading });
    } catch (error) {
      problems.push(
        `COMFYUI_OUTPUT_DIR=${e.COMFYUI_OUTPUT_DIR}: ${(error as Error).message}` +
          (downloading ? ' (with COMFYUI_DOWNLOAD_OUTPUTS=true the worker writes downloads there)' : " (it should be ComfyUI's output folder as this machine sees it)"),
      );
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  const oauth =
    e.LHC_OAUTH_CLIENT_ID && e.LHC_OAUTH_CLIENT_SECRET && e.LHC_OAUTH_ACCESS_TOKEN_URL
      ? { clientId: e.LHC_OAUTH_CLIENT_ID, clientSecret: e.LHC_OAUTH_CLIENT_SECRET, tokenUrl: e.LHC_OAUTH_ACCESS_TOKEN_URL }
      : undefined;
  return {
    ok: true,
    config: {
      comfy: {
        baseUrl: e.COMFYUI_BASE_URL.replace(/\/+$/, ''),
        outputDir: e.COMFYUI_OUTPUT_DIR,
        pollIntervalMs: ms(e.COMFYUI_POLL_INTERVAL_SEC),
        historyTimeoutMs: ms(e.COMFYUI_HISTORY_TIMEOUT_SEC),
        httpTimeoutMs: ms(e.COMFYUI_HTTP_TIMEOUT_SEC),
        httpRetries: e.COMFYUI_HTTP_RETRIES,
        liveEvents: e.COMFYUI_LIVE_EVENTS,
        watchdogIntervalMs: ms(e.COMFYUI_WATCHDOG_INTERVAL_SEC),
        startTimeoutMs: ms(e.COMFYUI_START_TIMEOUT_SEC),
        downloadOutputs: e.COMFYUI_DOWNLOAD_OUTPUTS,
        downloadMaxBytes: e.COMFYUI_DOWNLOAD_MAX_BYTES,
        includeTempOutputs: e.COMFYUI_INCLUDE_TEMP_OUTPUTS,
        allowPartial: e.COMFYUI_ALLOW_PARTIAL,
        outputPerTask: e.COMFYUI_OUTPUT_PER_TASK,
      },
      templates: { dir: e.COMFYUI_TEMPLATES_DIR, prefix: e.LHW_TEMPLATE_PREFIX },
      worker: {
        taskName: e.LHW_TASK_NAME,
        workerId: e.LHW_TASK_WORKER_ID ?? `comfyui-worker-${randomUUID()}`,
        workerVersion: e.LHW_TASK_WORKER_VERSION,
        runMode: e.LHW_RUN_MODE,
        idleExitMs: ms(e.LHW_IDLE_EXIT_SEC),
        maxTasks: e.LHW_MAX_TASKS,
        maxRuntimeMs: e.LHW_MAX_RUNTIME_SEC === undefined ? undefined : ms(e.LHW_MAX_RUNTIME_SEC),
        shutdownGraceMs: ms(e.LHW_SHUTDOWN_GRACE_SEC),
        timeoutMarginMs: ms(e.LHW_TIMEOUT_MARGIN_SEC),
        heartbeatMs: ms(e.LHW_HEARTBEAT_INTERVAL_SEC),
        pollRotateMs: e.LHW_POLL_ROTATE_MS,
        logLevel: e.LOG_LEVEL,
        logFormat: e.LOG_FORMAT,
      },
      littlehorse: {
        host: e.LHC_API_HOST,
        port: e.LHC_API_PORT,
        protocol: e.LHC_API_PROTOCOL,
        tenantId: e.LHC_TENANT_ID,
        certificates,
        oauth,
        keepaliveTimeMs: e.LHC_GRPC_KEEPALIVE_TIME_MS,
        keepaliveTimeoutMs: e.LHC_GRPC_KEEPALIVE_TIMEOUT_MS,
        resourceExhaustedRetry: e.LHC_GRPC_RESOURCE_EXHAUSTED_RETRY,
        maxReceiveMessageLength: e.LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH,
      },
      outputStore: outputStoreConfig(e),
      mediaInputs: mediaInputConfig(e),
      s3: s3Connection(e),
      metrics: { format: e.COMFYUI_WORKER_METRICS, backlogIntervalMs: ms(e.COMFYUI_WORKER_BACKLOG_INTERVAL_SEC) },
    },
  };
}
