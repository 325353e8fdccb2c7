import type { Env, EnvName } from './config.js';
import { STOP_AND_REPORT_MS } from './shutdown-clock.js';

/** The rules between environment variables: each runs once every variable it reads has parsed. */

/** Job mode: what the worker needs after LHW_SHUTDOWN_GRACE_SEC to stop the task in hand and report it. */
const STOP_AND_REPORT_SEC = STOP_AND_REPORT_MS / 1000;

/** A rule between variables. It runs once every variable it reads has parsed, so its problem joins theirs. */
export interface Relation {
  reads: EnvName[];
  /** What the README's table says about it, in the row of each variable named. */
  stated: Partial<Record<EnvName, string>>;
  problem(e: Env): string | undefined;
}

export const CERTIFICATES = ['LHC_CA_CERT', 'LHC_CLIENT_CERT', 'LHC_CLIENT_KEY'] as const;
const OAUTH = ['LHC_OAUTH_CLIENT_ID', 'LHC_OAUTH_CLIENT_SECRET', 'LHC_OAUTH_ACCESS_TOKEN_URL'] as const;
const MAX_IN_JOB = ['LHW_MAX_TASKS', 'LHW_MAX_RUNTIME_SEC'] as const;
const each = (names: readonly EnvName[], text: string) => Object.fromEntries(names.map((name) => [name, text]));

export const relations: Relation[] = [
  {
    reads: ['COMFYUI_WORKER_BACKLOG_INTERVAL_SEC', 'COMFYUI_WORKER_METRICS'],
    stated: { COMFYUI_WORKER_BACKLOG_INTERVAL_SEC: 'only with `COMFYUI_WORKER_METRICS=emf`' },
    problem: (e) =>
      e.COMFYUI_WORKER_BACKLOG_INTERVAL_SEC > 0 && e.COMFYUI_WORKER_METRICS === 'off'
        ? `COMFYUI_WORKER_BACKLOG_INTERVAL_SEC=${e.COMFYUI_WORKER_BACKLOG_INTERVAL_SEC} publishes a metric: set COMFYUI_WORKER_METRICS=emf too, or unset it`
        : undefined,
  },
  {
    reads: ['LHC_CLIENT_CERT', 'LHC_CLIENT_KEY'],
    stated: { LHC_CLIENT_CERT: 'with `LHC_CLIENT_KEY`', LHC_CLIENT_KEY: 'with `LHC_CLIENT_CERT`' },
    problem: (e) =>
      Boolean(e.LHC_CLIENT_CERT) !== Boolean(e.LHC_CLIENT_KEY)
        ? `${e.LHC_CLIENT_CERT ? 'LHC_CLIENT_CERT is set without LHC_CLIENT_KEY' : 'LHC_CLIENT_KEY is set without LHC_CLIENT_CERT'}: set both (mutual TLS) or neither`
        : undefined,
  },
  {
    reads: [...CERTIFICATES, 'LHC_API_PROTOCOL'],
    stated: each(CERTIFICATES, 'only with `LHC_API_PROTOCOL=TLS`'),
    problem: (e) => {
      const set = CERTIFICATES.filter((name) => e[name]);
      return set.length > 0 && e.LHC_API_PROTOCOL !== 'TLS'
        ? `${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set but LHC_API_PROTOCOL=${e.LHC_API_PROTOCOL}: certificates are used only with TLS; set LHC_API_PROTOCOL=TLS or unset ${set.join(', ')}`
        : undefined;
    },
  },
  {
    reads: [...OAUTH],
    stated: each(OAUTH, 'all three OAuth variables or none'),
    problem: (e) => {
      const set = OAUTH.filter((name) => e[name]);
      return set.length > 0 && set.length < OAUTH.length
        ? `${OAUTH.join(', ')} go together: only ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set; set all three or none`
        : undefined;
    },
  },
  {
    reads: [...MAX_IN_JOB, 'LHW_RUN_MODE'],
    stated: each(MAX_IN_JOB, 'only with `LHW_RUN_MODE=job`'),
    problem: (e) => {
      const set = [...(e.LHW_MAX_TASKS > 0 ? [`LHW_MAX_TASKS=${e.LHW_MAX_TASKS}`] : []), ...(e.LHW_MAX_RUNTIME_SEC !== undefined ? [`LHW_MAX_RUNTIME_SEC=${e.LHW_MAX_RUNTIME_SEC}`] : [])];
      return e.LHW_RUN_MODE !== 'job' && set.length > 0
        ? `${set.join(' and ')} apply only to LHW_RUN_MODE=job (it is ${e.LHW_RUN_MODE}): set the mode or unset them`
        : undefined;
    },
  },
  {
    reads: ['LHW_MAX_RUNTIME_SEC', 'LHW_SHUTDOWN_GRACE_SEC', 'LHW_RUN_MODE'],
    stated: { LHW_MAX_RUNTIME_SEC: `more than \`LHW_SHUTDOWN_GRACE_SEC\` + ${STOP_AND_REPORT_SEC}` },
    problem: (e) => {
      const least = e.LHW_SHUTDOWN_GRACE_SEC + STOP_AND_REPORT_SEC;
      return e.LHW_RUN_MODE === 'job' && e.LHW_MAX_RUNTIME_SEC !== undefined && e.LHW_MAX_RUNTIME_SEC <= least
        ? `LHW_MAX_RUNTIME_SEC=${e.LHW_MAX_RUNTIME_SEC} leaves no time to work: the worker stops taking tasks LHW_SHUTDOWN_GRACE_SEC=${e.LHW_SHUTDOWN_GRACE_SEC} + ${STOP_AND_REPORT_SEC} s before the end; set it above ${least}, or lower the grace period`
        : undefined;
    },
  },
];
