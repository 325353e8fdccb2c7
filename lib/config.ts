import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type MediaInputConfig, mediaInputConfig, mediaInputEnv } from './media/media-config.js';
import type { S3Connection } from './storage/s3-client.js';
import { outputStoreConfig, outputStoreEnv, type OutputStoreConfig, s3Connection, s3Env } from './storage/store-config.js';

/** Every environment variable the worker reads, with its rule and default: the one source of truth. */
const seconds = (fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'expects a whole number of seconds (0 or more)')
    .default(String(fallback))
    .transform(Number);

const optionalSeconds = z
  .string()
  .trim()
  .regex(/^\d+$/, 'expects a whole number of seconds (0 or more)')
  .transform(Number)
  .optional();

const count = (fallback: number) =>
  z.string().trim().regex(/^\d+$/, 'expects a whole number (0 or more)').default(String(fallback)).transform(Number);

const flag = (fallback: boolean) =>
  z.stringbool({ error: 'expects true or false' }).default(fallback);

const nonEmpty = (what: string) => z.string({ error: `is required: ${what}` }).trim().min(1, `is required: ${what}`);
const optionalText = z.string().trim().min(1).optional().catch(undefined);

export const envSchema = z.object({
  // ComfyUI
  COMFYUI_BASE_URL: z
    .string({ error: 'is required: the base URL of the ComfyUI server, e.g. http://127.0.0.1:8188' })
    .trim()
    .pipe(z.url({ protocol: /^https?$/, error: 'expects an http(s) URL, e.g. http://127.0.0.1:8188' })),
  COMFYUI_OUTPUT_DIR: nonEmpty("the folder where ComfyUI's output files are (or are to be downloaded)"),
  COMFYUI_POLL_INTERVAL_SEC: seconds(2),
  COMFYUI_HISTORY_TIMEOUT_SEC: seconds(600),
  COMFYUI_HTTP_TIMEOUT_SEC: seconds(30),
  COMFYUI_HTTP_RETRIES: count(3),
  COMFYUI_LIVE_EVENTS: flag(true),
  COMFYUI_WATCHDOG_INTERVAL_SEC: seconds(15),
  COMFYUI_START_TIMEOUT_SEC: seconds(120),
  COMFYUI_DOWNLOAD_OUTPUTS: flag(false),
  COMFYUI_DOWNLOAD_MAX_BYTES: count(2 * 1024 ** 3),
  COMFYUI_INCLUDE_TEMP_OUTPUTS: flag(false),
  COMFYUI_TEMPLATES_DIR: optionalText,
  ...s3Env,
  ...outputStoreEnv,
  ...mediaInputEnv,
  // Worker
  LHW_TASK_NAME: nonEmpty('the TaskDef name this worker serves, e.g. execute-comfyui-workflow').regex(
    /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/,
    'expects letters, digits and inner hyphens (LittleHorse names are hostname-like)',
  ),
  LHW_TEMPLATE_PREFIX: z
    .string()
    .trim()
    .regex(/^([A-Za-z0-9][-A-Za-z0-9]*)?$/, 'expects letters, digits and hyphens, starting with a letter or digit (it begins TaskDef names)')
    .default('comfyui-'),
  LHW_NUM_WORKER_THREADS: z
    .string()
    .trim()
    .default('1')
    .refine((v) => v === '1', 'must be 1: ComfyUI runs one prompt at a time; run more worker processes (one per ComfyUI) to scale')
    .transform(Number),
  LHW_TASK_WORKER_ID: z.string().trim().min(1).optional().catch(undefined),
  LHW_TASK_WORKER_VERSION: z.string().trim().default(''),
  LHW_RUN_MODE: z.enum(['service', 'job'], { error: 'expects service or job' }).default('service'),
  LHW_IDLE_EXIT_SEC: seconds(60),
  LHW_MAX_TASKS: count(0),
  LHW_MAX_RUNTIME_SEC: optionalSeconds,
  LHW_SHUTDOWN_GRACE_SEC: seconds(8),
  LHW_TIMEOUT_MARGIN_SEC: seconds(5),
  LOG_LEVEL: z
    .enum(['DEBUG', 'INFO', 'WARN', 'ERROR'], { error: 'expects DEBUG, INFO, WARN or ERROR' })
    .default('INFO'),
  // LittleHorse connection (LittleHorse's own names and defaults)
  LHC_API_HOST: z.string().trim().min(1).default('localhost'),
  LHC_API_PORT: z
    .string()
    .trim()
    .regex(/^\d+$/, 'expects a port number')
    .default('2023')
    .transform(Number)
    .refine((p) => p > 0 && p < 65536, 'expects a port number between 1 and 65535'),
  LHC_API_PROTOCOL: z.enum(['PLAINTEXT', 'TLS'], { error: 'expects PLAINTEXT or TLS' }).default('PLAINTEXT'),
  LHC_TENANT_ID: z.string().trim().min(1).default('default'),
  LHC_CA_CERT: optionalText,
  LHC_CLIENT_CERT: optionalText,
  LHC_CLIENT_KEY: optionalText,
  LHC_OAUTH_CLIENT_ID: optionalText,
  LHC_OAUTH_CLIENT_SECRET: optionalText,
  LHC_OAUTH_ACCESS_TOKEN_URL: z.url({ protocol: /^https?$/, error: 'expects an http(s) URL' }).optional(),
  LHC_GRPC_KEEPALIVE_TIME_MS: count(45_000),
  LHC_GRPC_KEEPALIVE_TIMEOUT_MS: count(5_000),
  LHC_GRPC_RESOURCE_EXHAUSTED_RETRY: flag(true),
  // grpc-js refuses messages over 4 MiB unless told otherwise. LittleHorse (LHServerListener) keeps
  // grpc-java's 4 MiB per request it receives but sends without a limit, and a task carries all its
  // input variables: 64 MiB leaves room, as the SDKs' variable of this name allows.
  LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH: z
    .string()
    .trim()
    .regex(/^(-1|\d+)$/, 'expects a number of bytes, or -1 for no limit')
    .default(String(64 * 1024 ** 2))
    .transform(Number)
    .refine((n) => n !== 0, 'expects a number of bytes above 0, or -1 for no limit'),
});

export type EnvName = keyof typeof envSchema.shape;
export const ENV_NAMES = Object.keys(envSchema.shape) as EnvName[];

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
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

export interface LittleHorseConfig {
  host: string;
  port: number;
  protocol: 'PLAINTEXT' | 'TLS';
  tenantId: string;
  caCertPath: string | undefined;
  clientCertPath: string | undefined;
  clientKeyPath: string | undefined;
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
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

const ms = (sec: number) => sec * 1000;

/** Parses the environment once; reports every problem at once, each naming its variable. */
export function parseConfig(env: NodeJS.ProcessEnv): ConfigResult {
  // An empty variable is treated as unset, as shells and manifests often leave `FOO=`.
  const present = Object.fromEntries(
    ENV_NAMES.map((name) => [name, env[name]?.trim() === '' ? undefined : env[name]]),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`),
    };
  }
  const e = parsed.data;
  const problems = crossFieldProblems(e);
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
        logLevel: e.LOG_LEVEL,
      },
      littlehorse: {
        host: e.LHC_API_HOST,
        port: e.LHC_API_PORT,
        protocol: e.LHC_API_PROTOCOL,
        tenantId: e.LHC_TENANT_ID,
        caCertPath: e.LHC_CA_CERT,
        clientCertPath: e.LHC_CLIENT_CERT,
        clientKeyPath: e.LHC_CLIENT_KEY,
        oauth,
        keepaliveTimeMs: e.LHC_GRPC_KEEPALIVE_TIME_MS,
        keepaliveTimeoutMs: e.LHC_GRPC_KEEPALIVE_TIMEOUT_MS,
        resourceExhaustedRetry: e.LHC_GRPC_RESOURCE_EXHAUSTED_RETRY,
        maxReceiveMessageLength: e.LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH,
      },
      outputStore: outputStoreConfig(e),
      mediaInputs: mediaInputConfig(e),
      s3: s3Connection(e),
    },
  };
}

function crossFieldProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  if (Boolean(e.LHC_CLIENT_CERT) !== Boolean(e.LHC_CLIENT_KEY)) {
    problems.push('LHC_CLIENT_CERT and LHC_CLIENT_KEY go together: set both (mutual TLS) or neither');
  }
  if ((e.LHC_CLIENT_CERT || e.LHC_CA_CERT) && e.LHC_API_PROTOCOL !== 'TLS') {
    problems.push('LHC_CA_CERT / LHC_CLIENT_CERT need LHC_API_PROTOCOL=TLS');
  }
  const oauthSet = [e.LHC_OAUTH_CLIENT_ID, e.LHC_OAUTH_CLIENT_SECRET, e.LHC_OAUTH_ACCESS_TOKEN_URL].filter(Boolean).length;
  if (oauthSet > 0 && oauthSet < 3) {
    problems.push(
      'LHC_OAUTH_CLIENT_ID, LHC_OAUTH_CLIENT_SECRET and LHC_OAUTH_ACCESS_TOKEN_URL go together: set all three or none',
    );
  }
  if (e.LHW_RUN_MODE === 'service' && (e.LHW_MAX_TASKS > 0 || e.LHW_MAX_RUNTIME_SEC !== undefined)) {
    problems.push('LHW_MAX_TASKS and LHW_MAX_RUNTIME_SEC apply only to LHW_RUN_MODE=job: set the mode or unset them');
  }
  return problems;
}
