// The WebSocket side of server.py: `/ws?clientId=` (and `/api/ws`), a `status` on connect,
// JSON text frames `{type, data}`, binary preview frames, and ComfyUI's one-socket-per-sid table.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { isObject, type JsonObject } from './types.js';

export interface SocketHooks {
  /** `{status: {exec_info: {queue_remaining}}}` */
  queueInfo(): JsonObject;
  /** server.client_id and server.last_node_id: re-sent to a reconnecting client that owns the run */
  current(): { clientId: string | null; lastNodeId: string | null };
  /** false answers the upgrade with 403 (origin check) */
  allowed(req: IncomingMessage): boolean;
  onConnect(): void;
}

export class SocketHub {
  /** Sockets stay open but carry nothing, pongs included: a half-open connection, a stuck proxy. */
  silent = false;
  refuse = false;
  // Pongs by hand, as aiohttp's autoping would (web_ws.py), so that `silent` can withhold them too.
  private readonly wss = new WebSocketServer({ noServer: true, autoPong: false });
  /** server.sockets: sid -> the socket messages go to */
  private readonly sockets = new Map<string, WebSocket>();
  /** client feature flags, server.sockets_metadata */
  private readonly flags = new Map<string, JsonObject>();
  /** every open socket, including ones replaced by a reconnect (they stay open, receiving nothing) */
  private readonly open = new Set<WebSocket>();

  constructor(private readonly hooks: SocketHooks) {}

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const reject = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/ws' && url.pathname !== '/api/ws') return reject('404 Not Found');
    if (this.refuse) return reject('503 Service Unavailable');
    if (!this.hooks.allowed(req)) return reject('403 Forbidden');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, url.searchParams.get('clientId') ?? ''));
  }

  private connected(ws: WebSocket, clientId: string): void {
    // server.py websocket_handler: reusing a sid drops the old socket from the table without closing it
    const sid = clientId || randomUUID().replaceAll('-', '');
    this.sockets.set(sid, ws);
    this.flags.set(sid, {});
    this.open.add(ws);
    this.hooks.onConnect();
    this.send('status', { status: this.hooks.queueInfo(), sid }, sid);
    const { clientId: running, lastNodeId } = this.hooks.current();
    if (running === sid && lastNodeId !== null) this.send('executing', { node: lastNodeId }, sid); // no prompt_id, as in server.py
    let first = true;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      try {
        const msg: unknown = JSON.parse(String(data));
        if (first && isObject(msg) && msg.type === 'feature_flags') {
          this.flags.set(sid, isObject(msg.data) ? msg.data : {});
          this.send('feature_flags', { supports_preview_metadata: true, max_upload_size: 104_857_600 }, sid);
        }
      } catch {
        // ComfyUI logs invalid JSON and carries on
      }
      first = false;
    });
    ws.on('close', () => {
      this.open.delete(ws);
      // As in server.py's `finally`: pops whatever socket holds this sid now. If an old socket for a
      // reused clientId closes after the new one connected, the new one stops getting messages.
      this.sockets.delete(sid);
      this.flags.delete(sid);
    });
    ws.on('ping', (data) => {
      if (!this.silent) ws.pong(data);
    });
    ws.on('error', () => undefined);
  }

  /** server.send_json: sid null/undefined broadcasts to every registered socket. */
  send(event: string, data: JsonObject, sid?: string | null): void {
    if (this.silent) return;
    const text = JSON.stringify({ type: event, data });
    for (const ws of this.targets(sid)) ws.send(text);
  }

  /** A preview frame: event 1 (PREVIEW_IMAGE) + format (1 JPEG) + bytes, or event 4 with metadata
   *  for clients that announced `supports_preview_metadata` (comfy_execution/progress.py). */
  sendPreview(metadata: JsonObject, sid?: string | null): void {
    if (this.silent) return;
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0xff, 0xd9]);
    for (const ws of this.targets(sid)) {
      const key = [...this.sockets].find(([, s]) => s === ws)?.[0] ?? '';
      const withMeta = this.flags.get(key)?.supports_preview_metadata === true;
      const header = Buffer.alloc(8);
      if (withMeta) {
        const meta = Buffer.from(JSON.stringify({ ...metadata, image_type: 'image/jpeg' }));
        header.writeUInt32BE(4, 0);
        header.writeUInt32BE(meta.length, 4);
        ws.send(Buffer.concat([header, meta, jpeg]));
      } else {
        header.writeUInt32BE(1, 0);
        header.writeUInt32BE(1, 4);
        ws.send(Buffer.concat([header, jpeg]));
      }
    }
  }

  private targets(sid?: string | null): WebSocket[] {
    const list = sid === null || sid === undefined ? [...this.sockets.values()] : [this.sockets.get(sid)];
    return list.filter((ws): ws is WebSocket => ws !== undefined && ws.readyState === ws.OPEN);
  }

  /** Terminates every open socket now (no close handshake). */
  dropAll(): void {
    for (const ws of this.open) ws.terminate();
  }

  close(): void {
    this.dropAll();
    this.wss.close();
  }
}
