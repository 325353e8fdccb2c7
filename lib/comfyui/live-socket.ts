import WebSocket from 'ws';
import type { LiveEvents, LiveSignal, StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import { backoffMs } from '../backoff.js';
import { parseEvent } from '../../functions/execute-comfyui-workflow/comfy-messages.js';

export interface LiveSocketOptions {
  baseUrl: string;
  /** One per worker process: ComfyUI sends a prompt's execution events to the socket of its client_id. */
  clientId: string;
  logger: StructuredLog;
  /** A ping goes out this often (default 2.5 s). */
  pingIntervalMs?: number;
  /** Nothing heard (pong or message) this long after a ping: the connection is dead (default 2 s; keep it ≤ pingIntervalMs). */
  pongTimeoutMs?: number;
  /** Reconnect backoff: the first delay and the ceiling (default 100 ms and 5 s). */
  reconnectDelayMs?: { first: number; max: number };
}

/**
 * A socket open but silent (no messages, no pongs: a half-open connection, a proxy that stopped
 * forwarding) is declared dead within ping interval + pong timeout: 4.5 s by default, so a task
 * following its prompt falls back to reading history within seconds, not at the next watchdog read.
 */
const PING_INTERVAL_MS = 2_500;
const PONG_TIMEOUT_MS = 2_000;

/**
 * ComfyUI's /ws, kept open for the life of the worker: reconnects with jittered backoff (first retry
 * fast, ceiling 5 s; at once when ComfyUI answers over HTTP again, see reconnectNow), declares a
 * silent connection dead by ping/pong, ignores binary preview frames, and hands every parsed event
 * to its listeners.
 */
export class LiveSocket implements LiveEvents {
  private socket: WebSocket | undefined;
  private readonly listeners = new Set<(signal: LiveSignal) => void>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  /** The last connection was declared dead: the next one found dead too is only logged at debug. */
  private wasSilent = false;

  constructor(private readonly options: LiveSocketOptions) {}

  get clientId(): string {
    return this.options.clientId;
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.closed = false;
    if (!this.socket) this.connect();
  }

  /** Resolves true once connected, false if that takes longer than timeoutMs. */
  waitUntilConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        unlisten();
        resolve(false);
      }, timeoutMs);
      const unlisten = this.listen((signal) => {
        if (signal.type !== 'connected') return;
        clearTimeout(timer);
        unlisten();
        resolve(true);
      });
    });
  }

  listen(listener: (signal: LiveSignal) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * ComfyUI answered an HTTP request, so it is up: a socket waiting out its reconnect backoff
   * (which grows to 5 s while ComfyUI restarts) connects now, and the next task has its events.
   */
  reconnectNow(): void {
    if (this.closed || this.socket || this.reconnectTimer === undefined) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopPinging();
    this.socket?.terminate();
    this.socket = undefined;
  }

  private connect(): void {
    const url = `${this.options.baseUrl.replace(/^http/, 'ws')}/ws?clientId=${encodeURIComponent(this.options.clientId)}`;
    const socket = new WebSocket(url, { handshakeTimeout: 5_000, perMessageDeflate: false });
    this.socket = socket;
    let opened = false;
    let heard = true;

    socket.on('open', () => {
      opened = true;
      this.failures = 0;
      this.options.logger.debug('ComfyUI live events connected', { clientId: this.clientId });
      const pongTimeoutMs = this.options.pongTimeoutMs ?? PONG_TIMEOUT_MS;
      this.pingTimer = setInterval(() => {
        socket.ping();
        if (this.pongTimer !== undefined) return; // one deadline at a time: the earliest ping's
        heard = false;
        this.pongTimer = setTimeout(() => {
          this.pongTimer = undefined;
          if (heard) return;
          this.options.logger[this.wasSilent ? 'debug' : 'warn']('ComfyUI live events silent (no pong in time): reconnecting', { pongTimeoutMs });
          this.wasSilent = true;
          socket.terminate();
        }, pongTimeoutMs);
      }, this.options.pingIntervalMs ?? PING_INTERVAL_MS);
      this.emit({ type: 'connected' });
    });
    socket.on('pong', () => {
      heard = true;
      this.wasSilent = false;
    });
    socket.on('message', (data, isBinary) => {
      heard = true;
      this.wasSilent = false;
      if (isBinary) return; // preview images
      const event = parseEvent(data.toString());
      if (event) this.emit({ type: 'event', event });
    });
    socket.on('error', (error) => this.options.logger.debug('ComfyUI live events socket error', { error: error.message }));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.stopPinging();
      if (this.closed) return;
      // Only a connection that was up is reported lost; a failed reconnect attempt is not news.
      if (opened) this.emit({ type: 'disconnected' });
      const backoff = this.options.reconnectDelayMs ?? { first: 100, max: 5_000 };
      const delay = backoffMs(this.failures++, backoff.first, backoff.max);
      this.options.logger.debug('ComfyUI live events disconnected; reconnecting', { inMs: delay });
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        this.connect();
      }, delay);
    });
  }

  private stopPinging(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private emit(signal: LiveSignal): void {
    for (const listener of [...this.listeners]) listener(signal);
  }
}
