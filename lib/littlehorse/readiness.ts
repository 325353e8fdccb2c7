import { ClientError, Status } from 'nice-grpc';
import type { LittleHorseConfig } from '../config.js';
import { backoffMs } from '../backoff.js';
import { ExitCode } from '../exit-codes.js';
import type { Dependency, Diagnosis } from '../startup.js';
import { TaskDefMismatch } from './task-def.js';

/** How long start-up keeps retrying LittleHorse before giving up with exit code 3. */
export const LITTLEHORSE_START_BUDGET_MS = 30_000;
/** The longest one try may take: a host that drops packets would otherwise hold it for grpc-js' connect timeout. */
const ATTEMPT_TIMEOUT_MS = 10_000;
const LONGEST_DETAIL = 300;

export interface LittleHorseReadinessOptions {
  config: LittleHorseConfig;
  address: string;
  /** One try at everything start-up needs from LittleHorse (the TaskDef, registering the worker). */
  attempt: (signal: AbortSignal) => Promise<void>;
}

/**
 * LittleHorse as a start-up dependency. Refusals no retry can fix end start-up at once with exit
 * code 3, naming the variable to change: PERMISSION_DENIED (a tenant the server does not know, or
 * no access to it: `RequestAuthorizer`) and UNAUTHENTICATED (missing or rejected credentials).
 */
export function littleHorseDependency({ config, address, attempt }: LittleHorseReadinessOptions): Dependency {
  return {
    name: 'LittleHorse',
    address,
    attempt: (signal) => attempt(AbortSignal.any([signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)])),
    diagnose: (error) => diagnose(error, config),
    timeoutMs: LITTLEHORSE_START_BUDGET_MS,
    timeout: { exitCode: ExitCode.LITTLEHORSE_UNREACHABLE },
    retryDelayMs: (tries) => backoffMs(tries - 1, 200, 3_000),
  };
}

function diagnose(error: unknown, config: LittleHorseConfig): Diagnosis {
  if (error instanceof TaskDefMismatch) return { problem: error.message, fatal: ExitCode.TASKDEF_MISMATCH };
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
    return { problem: `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s; check LHC_API_HOST and LHC_API_PORT, and that nothing in between drops the connection` };
  }
  if (!(error instanceof ClientError)) return { problem: error instanceof Error ? error.message : String(error) };
  const said = `${Status[error.code]}: ${detail(error.details)}`;
  switch (error.code) {
    case Status.PERMISSION_DENIED:
      return {
        problem: `${said}; check LHC_TENANT_ID (it is "${config.tenantId}": the tenant must exist and this client must be allowed to use it)`,
        fatal: ExitCode.LITTLEHORSE_UNREACHABLE,
      };
    case Status.UNAUTHENTICATED:
      return {
        problem: `${said}; ${
          config.oauth
            ? 'check LHC_OAUTH_CLIENT_ID, LHC_OAUTH_CLIENT_SECRET and LHC_OAUTH_ACCESS_TOKEN_URL'
            : 'this server wants credentials: set LHC_OAUTH_CLIENT_ID, LHC_OAUTH_CLIENT_SECRET and LHC_OAUTH_ACCESS_TOKEN_URL, or a client certificate (LHC_CLIENT_CERT, LHC_CLIENT_KEY)'
        }`,
        fatal: ExitCode.LITTLEHORSE_UNREACHABLE,
      };
    case Status.UNAVAILABLE:
      return { problem: unavailable(error.details, said, config) };
    default:
      return { problem: said };
  }
}

/** The usual causes of UNAVAILABLE at start-up, in words, with the variable to check. */
function unavailable(details: string, said: string, config: LittleHorseConfig): string {
  if (/ECONNREFUSED/.test(details)) return 'connection refused (UNAVAILABLE): nothing listens there (yet); check LHC_API_HOST and LHC_API_PORT';
  if (/ENOTFOUND|EAI_AGAIN/.test(details)) return 'the host name does not resolve (UNAVAILABLE); check LHC_API_HOST';
  if (config.protocol === 'TLS' && /certificate|self.signed|CERT_|altnames/i.test(details)) {
    return `${said}; the server's certificate was not accepted: check LHC_CA_CERT, and that LHC_API_HOST is a name the certificate holds`;
  }
  if (/wrong version number|SSL|TLS|handshake/i.test(details)) return `${said}; check LHC_API_PROTOCOL (it is ${config.protocol})`;
  if (config.protocol === 'PLAINTEXT' && /ECONNRESET|Protocol error|RST_STREAM/i.test(details)) {
    return `${said}; the server may expect TLS: check LHC_API_PROTOCOL (it is PLAINTEXT)`;
  }
  return `${said}; check LHC_API_HOST, LHC_API_PORT and LHC_API_PROTOCOL`;
}

/** gRPC's details without its empty "Resolution note:" tail and timestamps, cut to a readable length. */
function detail(details: string): string {
  const text = details
    .replace(/\s*Resolution note:\s*$/, '')
    .replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, '')
    .trim();
  return text.length > LONGEST_DETAIL ? `${text.slice(0, LONGEST_DETAIL)}…` : text;
}
