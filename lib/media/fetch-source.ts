import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { type Failure, FailureError, unavailable } from '../../functions/execute-comfyui-workflow/failure.js';
import type { MediaInputConfig } from './media-config.js';
import { isPrivateAddress, publicOnlyLookup } from './private-address.js';

export interface FetchedMedia {
  data: Buffer;
  /** As the source declares it (Content-Type, the data: URI's media type); undefined when it says nothing. */
  contentType: string | undefined;
  /** A name taken from the source's path, before any sanitising. */
  name: string | undefined;
}

export type FetchObject = (source: URL, config: MediaInputConfig, signal: AbortSignal) => Promise<FetchedMedia>;

const MAX_REDIRECTS = 5;

/** A source as it may appear in logs and messages: never a signed URL's query, never a data: URI's payload. */
export function describeSource(source: string): string {
  if (/^data:/i.test(source)) return `${source.slice(0, Math.min(source.indexOf(',') + 1 || 40, 60))}…`;
  try {
    const url = new URL(source);
    return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`;
  } catch {
    return '(an unparsable URL)';
  }
}

/** A source that will not work however often it is tried: the task ends as comfyui-invalid-input. */
export const invalidInput = (message: string, details: Record<string, unknown>): FailureError =>
  new FailureError({ kind: 'validation', name: 'comfyui-invalid-input', message, details } satisfies Failure);

/** Fetches an https:, http: or data: source, within the size limit and timeout. s3:/gs: go to fetchObject. */
export async function fetchSource(source: string, config: MediaInputConfig, signal: AbortSignal, fetchObject?: FetchObject): Promise<FetchedMedia> {
  const where = describeSource(source);
  if (/^data:/i.test(source)) return decodeDataUri(source, config, where);
  const url = new URL(source);
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(config.timeoutMs)]);
  if (url.protocol === 's3:' || url.protocol === 'gs:') {
    if (!fetchObject) throw invalidInput(`Input ${where}: ${url.protocol}// sources are not available here`, { source: where });
    return fetchObject(url, config, deadline);
  }
  return fetchHttp(url, config, deadline, where, 0);
}

function decodeDataUri(source: string, config: MediaInputConfig, where: string): FetchedMedia {
  const match = /^data:([^,]*?)(;base64)?,(.*)$/is.exec(source);
  if (!match) throw invalidInput(`Input ${where} is not a valid data: URI (data:<type>;base64,<data>)`, { source: where });
  let data: Buffer;
  try {
    data = match[2] ? Buffer.from(match[3]!, 'base64') : Buffer.from(decodeURIComponent(match[3]!), 'utf8');
  } catch {
    throw invalidInput(`Input ${where} is not a valid data: URI (its percent-encoding is broken)`, { source: where });
  }
  if (data.length > config.maxBytes) throw tooLarge(where, data.length, config.maxBytes);
  return { data, contentType: match[1]?.split(';')[0] || undefined, name: undefined };
}

async function fetchHttp(url: URL, config: MediaInputConfig, signal: AbortSignal, where: string, redirects: number): Promise<FetchedMedia> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidInput(`Input ${where}: only https:, http:, s3:, gs: and data: sources are fetched`, { source: where });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // http.request skips the lookup for an address literal: check it here.
  if (!config.allowPrivate && net.isIP(host) && isPrivateAddress(host)) throw privateAddress(where, host);
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).get(url, { signal, ...(config.allowPrivate ? {} : { lookup: publicOnlyLookup() }) }, resolve);
    request.on('error', reject);
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EPRIVATE') throw privateAddress(where, error.message);
    // The task's own stop is reported by the handler from its signal; here only the timeout is ours.
    if (signal.aborted) throw timedOut(where, config);
    throw new FailureError(unavailable(`Input ${where} could not be fetched: ${error.code ?? error.message}`, { source: where }));
  });
  const status = response.statusCode ?? 0;
  if (status >= 300 && status < 400 && response.headers.location) {
    response.resume();
    if (redirects >= MAX_REDIRECTS) throw invalidInput(`Input ${where} redirects more than ${MAX_REDIRECTS} times`, { source: where });
    const next = new URL(response.headers.location, url);
    return fetchHttp(next, config, signal, describeSource(next.href), redirects + 1);
  }
  if (status !== 200) {
    response.resume();
    const problem = `Input ${where} answered HTTP ${status}`;
    if (status >= 500 || status === 408 || status === 429) throw new FailureError(unavailable(problem, { source: where, status }));
    throw invalidInput(`${problem}: check the URL and that it is readable without credentials (or presigned)`, { source: where, status });
  }
  const declared = Number(response.headers['content-length'] ?? NaN);
  if (declared > config.maxBytes) {
    response.destroy();
    throw tooLarge(where, declared, config.maxBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > config.maxBytes) {
        response.destroy();
        throw tooLarge(where, size, config.maxBytes);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof FailureError) throw error;
    if (signal.aborted) throw timedOut(where, config);
    throw new FailureError(unavailable(`Input ${where} broke off while being read: ${(error as Error).message}`, { source: where }));
  }
  const name = decodeURIComponent(url.pathname.split('/').pop() ?? '') || undefined;
  return { data: Buffer.concat(chunks), contentType: response.headers['content-type']?.split(';')[0]?.trim(), name };
}

export const tooLarge = (where: string, bytes: number, max: number) =>
  invalidInput(`Input ${where} is larger than COMFYUI_INPUT_MAX_BYTES (${bytes} > ${max} bytes)`, { source: where, bytes, max_bytes: max });
const privateAddress = (where: string, detail: string) =>
  invalidInput(`Input ${where} points to a private address (${detail}); set COMFYUI_INPUT_ALLOW_PRIVATE=true to allow it`, { source: where });
const timedOut = (where: string, config: MediaInputConfig) =>
  new FailureError(unavailable(`Input ${where} took longer than COMFYUI_INPUT_TIMEOUT_SEC (${config.timeoutMs / 1000} s)`, { source: where }));
