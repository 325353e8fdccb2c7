import http from 'node:http';
import https from 'node:https';
import fetch, { type Response } from 'node-fetch';
import { FailureError, unavailable } from '../../functions/execute-comfyui-workflow/failure.js';
import { backoffMs, sleep } from '../backoff.js';

export interface HttpSettings {
  baseUrl: string;
  timeoutMs: number;
  /** Extra attempts after the first, for network errors and 5xx; 4xx is never retried. */
  retries: number;
}

export interface HttpReply {
  status: number;
  body: unknown;
}

/**
 * JSON over HTTP to ComfyUI with one keep-alive connection pool, a timeout per request and the
 * retry policy: network errors and 5xx are retried with a short backoff, 4xx never.
 */
export class ComfyHttp {
  private readonly agent: http.Agent;

  constructor(private readonly settings: HttpSettings) {
    const Agent = settings.baseUrl.startsWith('https:') ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 4 });
  }

  get baseUrl(): string {
    return this.settings.baseUrl;
  }

  async json(
    method: 'GET' | 'POST',
    path: string,
    payload?: unknown,
    signal?: AbortSignal,
    options: { retries?: number } = {},
  ): Promise<HttpReply> {
    const response = await this.send(method, path, payload, signal, true, options.retries);
    const text = await response.text();
    return { status: response.status, body: parseBody(text) };
  }

  /** The raw response of a GET (for streaming downloads); the caller consumes the body. */
  async stream(path: string, signal?: AbortSignal): Promise<Response> {
    return this.send('GET', path, undefined, signal, false);
  }

  close(): void {
    this.agent.destroy();
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    payload: unknown,
    signal: AbortSignal | undefined,
    bounded = true,
    retries = this.settings.retries,
  ): Promise<Response> {
    const url = `${this.settings.baseUrl}${path}`;
    let lastProblem = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt - 1, 200, 2_000), signal);
      const timeout = AbortSignal.timeout(this.settings.timeoutMs);
      try {
        const response = await fetch(url, {
          method,
          agent: this.agent,
          // No Origin header: ComfyUI refuses loopback requests whose Origin and Host disagree (server.py).
          headers: payload === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
          body: payload === undefined ? undefined : JSON.stringify(payload),
          // A streamed download is bounded by its own size check, not by the request timeout.
          signal: bounded || !signal ? anySignal(timeout, signal) : signal,
        });
        if (response.status < 500) return response;
        lastProblem = `answered HTTP ${response.status}`;
        await response.arrayBuffer().catch(() => undefined);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        lastProblem = timeout.aborted
          ? `did not answer within ${this.settings.timeoutMs / 1000} s (COMFYUI_HTTP_TIMEOUT_SEC)`
          : `could not be reached (${describe(error)})`;
      }
    }
    throw new FailureError(
      unavailable(`ComfyUI at ${this.settings.baseUrl} ${lastProblem} on ${method} ${path.split('?')[0]}, after ${retries + 1} attempt(s)`),
    );
  }
}

function anySignal(timeout: AbortSignal, other: AbortSignal | undefined): AbortSignal {
  return other ? AbortSignal.any([timeout, other]) : timeout;
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
