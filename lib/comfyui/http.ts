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
  /** Called on every answer below 500: ComfyUI is up (a socket waiting to reconnect can go now). */
  onAnswer?: () => void;
}

export interface HttpReply {
  status: number;
  body: unknown;
}

/**
 * One request's result. `mayHaveArrived` is false only when the request provably never reached
 * ComfyUI (refused, unresolvable), so a caller need not check whether it took effect.
 */
export type Attempt = { ok: true; reply: HttpReply } | { ok: false; problem: string; mayHaveArrived: boolean };

/** Errors that mean nothing was sent: the connection was never made. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The abort reason of our own timeout, told apart from the caller's by identity. */
const TIMED_OUT = Symbol('timed out');

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

  get retries(): number {
    return this.settings.retries;
  }

  async json(
    method: 'GET' | 'POST',
    path: string,
    payload?: unknown,
    signal?: AbortSignal,
    options: { retries?: number } = {},
  ): Promise<HttpReply> {
    const retries = options.retries ?? this.settings.retries;
    let problem = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt - 1, 200, 2_000), signal);
      const result = await this.jsonOnce(method, path, payload, signal);
      if (result.ok) return result.reply;
      problem = result.problem;
    }
    throw this.gaveUp(problem, method, path, retries + 1);
  }

  /**
   * One request, no retry, body read in full: a network error, a timeout or a 5xx comes back as a
   * problem instead of being thrown; only the caller's abort throws (its reason).
   */
  async jsonOnce(method: 'GET' | 'POST', path: string, payload: unknown, signal?: AbortSignal): Promise<Attempt> {
    if (signal?.aborted) throw signal.reason;
    // One controller and one timer per request, both dropped when the body is in: cheaper than
    // AbortSignal.timeout + AbortSignal.any (weakly tracked signals, a DOMException per timeout)
    // and the same bound, covering the body too. An agent socket timeout would not do: it measures
    // idleness, and node-fetch does not act on it.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(TIMED_OUT), this.settings.timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.fetch(method, path, payload, controller.signal);
      const text = await response.text();
      if (response.status >= 500) return { ok: false, problem: `answered HTTP ${response.status}`, mayHaveArrived: true };
      this.settings.onAnswer?.();
      return { ok: true, reply: { status: response.status, body: parseBody(text) } };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (controller.signal.reason === TIMED_OUT) {
        return { ok: false, problem: `did not answer within ${this.settings.timeoutMs / 1000} s (COMFYUI_HTTP_TIMEOUT_SEC)`, mayHaveArrived: true };
      }
      const code = (error as { code?: unknown }).code;
      return { ok: false, problem: `could not be reached (${describe(error)})`, mayHaveArrived: !(typeof code === 'string' && NEVER_SENT.has(code)) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The raw response of a GET (for streaming downloads); the caller consumes the body. Bounded by
   * the caller's signal and the download's own size check, not by the request timeout.
   */
  async stream(path: string, signal: AbortSignal): Promise<Response> {
    let problem = '';
    for (let attempt = 0; attempt <= this.settings.retries; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt - 1, 200, 2_000), signal);
      try {
        const response = await this.fetch('GET', path, undefined, signal);
        if (response.status < 500) return response;
        problem = `answered HTTP ${response.status}`;
        await response.arrayBuffer().catch(() => undefined);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        problem = `could not be reached (${describe(error)})`;
      }
    }
    throw this.gaveUp(problem, 'GET', path, this.settings.retries + 1);
  }

  /** The failure for a request that never got an answer, in every attempt. */
  gaveUp(problem: string, method: string, path: string, attempts: number): FailureError {
    return new FailureError(
      unavailable(`ComfyUI at ${this.settings.baseUrl} ${problem} on ${method} ${path.split('?')[0]}, after ${attempts} attempt(s)`),
    );
  }

  close(): void {
    this.agent.destroy();
  }

  private fetch(method: 'GET' | 'POST', path: string, payload: unknown, signal: AbortSignal): Promise<Response> {
    return fetch(`${this.settings.baseUrl}${path}`, {
      method,
      agent: this.agent,
      // No Origin header: ComfyUI refuses loopback requests whose Origin and Host disagree (server.py).
      headers: payload === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
      body: payload === undefined ? undefined : JSON.stringify(payload),
      signal,
    });
  }
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
