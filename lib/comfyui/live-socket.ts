import WebSocket from 'ws';
import type { LiveEvents, LiveSignal, StructuredLog } from '../../functions/execute-comfyui-workflow/ports.js';
import { backoffMs } from '../backoff.js';
import { parseEvent } from '../../functions/execute-comfyui-workflow/comfy-messages.js';

export interface LiveSocketOptions {
  baseUrl: string;
  /** One per worker process: ComfyUI sends a prompt's execution events to the socket of its client_id. */
  clientId: string;
  logger: StructuredLog;
  /** A ping goes out this often; no pong by the next one means the connection is dead. */
  pingIntervalMs?: number;
}

/**
 * ComfyUI's /ws, kept open for the life of the worker: reconnects with jittered backoff (first retry
 * fast, ceiling 5 s), detects a dead connection by ping/pong, ignores binary preview frames, and
 * hands every parsed event to its listeners.
 */
export class LiveSocket implements LiveEvents {
  private socket: WebSocket | undefined;
  private readonly listeners = new Set<(signal: LiveSignal) => void>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

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

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.socket?.terminate();
    this.socket = undefined;
  }

  private connect(): void {
    const url = `${this.options.baseUrl.replace(/^http/, 'ws')}/ws?clientId=${encodeURIComponent(this.options.clientId)}`;
    const socket = new WebSocket(url, { handshakeTimeout: 5_000, perMessageDeflate: false });
    this.socket = socket;
    let alive = true;

    socket.on('open', () => {
      this.failures = 0;
      this.options.logger.debug('ComfyUI live events connected', { clientId: this.clientId });
      this.pingTimer = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, this.options.pingIntervalMs ?? 10_000);
      this.emit({ type: 'connected' });
    });
    socket.on('pong', () => (alive = true));
    socket.on('message', (data, isBinary) => {
      alive = true;
      if (isBinary) return; // preview images
      const event = parseEvent(data.toString());
      if (event) this.emit({ type: 'event', event });
    });
    socket.on('error', (error) => this.options.logger.debug('ComfyUI live events socket error', { error: error.message }));
    socket.on('close', () => {
      clearInterval(this.pingTimer);
      const wasOpen = this.socket === socket;
      if (wasOpen) this.socket = undefined;
      if (this.closed) return;
      this.emit({ type: 'disconnected' });
      const delay = backoffMs(this.failures++, 100, 5_000);
      this.options.logger.debug('ComfyUI live events disconnected; reconnecting', { inMs: delay });
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  private emit(signal: LiveSignal): void {
    for (const listener of [...this.listeners]) listener(signal);
  }
}
