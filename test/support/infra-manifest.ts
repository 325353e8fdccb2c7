// What every deployment manifest in infra/ is checked against: the worker's configuration schema
// (lib/config.ts). When a variable is added to the schema, the first failure names the manifest it belongs in.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { ENV_NAMES, envSchema, parseConfig, type EnvName } from '../../lib/config.js';
import { STOP_AND_REPORT_MS } from '../../lib/shutdown-clock.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const infra = path.join(root, 'infra');
export const read = (relative: string) => readFileSync(path.join(root, relative), 'utf8');

const known = new Set<string>(ENV_NAMES);
export const isKnown = (name: string): name is EnvName => known.has(name);
const REQUIRED = ENV_NAMES.filter((name) => !envSchema.shape[name].safeParse(undefined).success);

/** Stand-ins for values the platform injects from its secret store. */
const SECRET_SAMPLES: Partial<Record<EnvName, string>> = {
  LHC_OAUTH_CLIENT_ID: 'comfyui-worker',
  LHC_OAUTH_CLIENT_SECRET: 'not-a-real-secret',
  LHC_OAUTH_ACCESS_TOKEN_URL: 'https://auth.example.com/token',
};
const FILE_PATH_VARIABLES: EnvName[] = ['COMFYUI_OUTPUT_DIR', 'LHC_CA_CERT', 'LHC_CLIENT_CERT', 'LHC_CLIENT_KEY'];
/** The AWS SDK's own credential variables, which the worker's S3 client reads (an HMAC key on Google Cloud). */
export const SDK_CREDENTIAL_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

/**
 * Seconds the worker takes after LHW_SHUTDOWN_GRACE_SEC to stop the task in hand on ComfyUI and
 * report it: its one shutdown deadline is grace + this, and must fit in the platform's window
 * between SIGTERM and SIGKILL (ECS StopTimeout, Cloud Run's fixed 10 s).
 */
export const SHUTDOWN_ALLOWANCE_SEC = STOP_AND_REPORT_MS / 1000;
export const FARGATE_MAX_STOP_TIMEOUT_SEC = 120;
export const CLOUD_RUN_TERMINATION_SEC = 10;

export interface WorkerSetup {
  /** Where the manifest is, for messages. */
  label: string;
  env: Record<string, string>;
  /** Variables the platform fills from a secret store. */
  secretNames: string[];
  /** Container paths where volumes are mounted in the worker's container. */
  mountPaths: string[];
}

/** The checks every manifest's worker container must pass; returns the parsed configuration. */
export function checkWorker({ label, env, secretNames, mountPaths }: WorkerSetup) {
  const names = [...Object.keys(env), ...secretNames];
  const unknown = names.filter((name) => !isKnown(name) && !SDK_CREDENTIAL_VARIABLES.includes(name));
  const plainKeys = Object.keys(env).filter((name) => SDK_CREDENTIAL_VARIABLES.includes(name));
  expect(plainKeys, `${label} writes credentials into the manifest; take them from the secret store`).toEqual([]);
  expect(unknown, `${label} sets variables lib/config.ts does not know: ${unknown.join(', ')}`).toEqual([]);
  const missing = REQUIRED.filter((name) => !names.includes(name));
  expect(missing, `${label} does not set the required ${missing.join(', ')}`).toEqual([]);

  const withSecrets: Record<string, string> = { ...env };
  for (const name of secretNames) withSecrets[name] = (isKnown(name) && SECRET_SAMPLES[name]) || 'sample-secret';
  // The files are on the platform's volumes, not here: where they are is checked below.
  const parsed = parseConfig(withSecrets, { pem: () => Buffer.from(''), folder: () => undefined });
  if (!parsed.ok) expect.fail(`${label} does not pass the configuration check:\n  ${parsed.problems.join('\n  ')}`);

  for (const name of FILE_PATH_VARIABLES) {
    const value = env[name];
    if (value === undefined) continue;
    const mounted = mountPaths.some((mount) => value === mount || value.startsWith(`${mount.replace(/\/$/, '')}/`));
    const temporary = name === 'COMFYUI_OUTPUT_DIR' && value.startsWith('/tmp/');
    expect(mounted || temporary, `${label}: ${name}=${value} is not inside a mounted volume (${mountPaths.join(', ')})`).toBe(true);
  }
  return parsed.config;
}

// ---------------------------------------------------------------------------------------------
// AWS: CloudFormation, parsed with its intrinsic-function tags and evaluated for a set of
// parameter values, the way CloudFormation would.
// ---------------------------------------------------------------------------------------------

export function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const full = path.join(folder, entry);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

// ---------------------------------------------------------------------------------------------
// Google Cloud: the Cloud Run manifests' ${...} placeholders, filled as envsubst would.
// ---------------------------------------------------------------------------------------------

/** Sample values for every placeholder in infra/gcp/ (docs/deploy-gcp.md explains each). */
export const GCP_PLACEHOLDERS: Record<string, string> = {
  GCP_REGION: 'europe-west4',
  MODELS_BUCKET: 'my-project-comfyui-models',
  RUN_SERVICE_ACCOUNT: 'comfyui-worker@my-project.iam.gserviceaccount.com',
  WORKER_IMAGE: 'europe-west4-docker.pkg.dev/my-project/comfyui/comfyui-worker:0.1.0',
  COMFY_IMAGE: `docker.io/yanwk/comfyui-boot:cu128-slim@sha256:${'0'.repeat(64)}`,
  TASK_NAME: 'execute-comfyui-workflow',
  COMFY_URL: 'http://comfyui.internal:8188',
  LITTLEHORSE_HOST: 'littlehorse.example.com',
  LITTLEHORSE_TOKEN_URL: 'https://auth.example.com/realms/lh/protocol/openid-connect/token',
  OUTPUT_BUCKET: 'my-project-comfyui-outputs',
};

/**
 * The two ways a Cloud Run manifest stores outputs (docs/deploy-gcp.md): `mount`, the file as
 * written (a Cloud Storage FUSE mount), or `hmac`, the file as HMAC_SED turns it: lines ending in
 * " #mount" dropped, lines starting "#hmac " (after the indentation) uncommented.
 */
export type StorageChoice = 'mount' | 'hmac';
export const STORAGE_CHOICES: StorageChoice[] = ['mount', 'hmac'];
/** The command docs/deploy-gcp.md gives for the HMAC choice, without its input file. */
export const HMAC_SED = ['sed', '-E', '-e', '/ #mount$/d', '-e', 's/^( *)#hmac /\\1/'];

export function hmacChoice(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/ #mount$/.test(line))
    .map((line) => line.replace(/^( *)#hmac /, '$1'))
    .join('\n');
}

/** The manifest at `relative`, in one storage choice, with its placeholders filled; an unlisted placeholder is an error. */
export function filledCloudRunManifest(relative: string, choice: StorageChoice = 'mount'): string {
  const unknown: string[] = [];
  const source = read(relative);
  const text = (choice === 'hmac' ? hmacChoice(source) : source).replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
    const sample = GCP_PLACEHOLDERS[name];
    if (sample === undefined) unknown.push(name);
    return sample ?? '';
  });
  if (unknown.length > 0) throw new Error(`${relative} uses placeholders the tests do not list: ${unknown.join(', ')}`);
  return text;
}
