// HTTP routes of server.py, each served as /x and /api/x (PromptServer.add_routes).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { objectInfo } from './object-info.js';
import type { OutputDirs } from './outputs.js';
import type { PromptQueue } from './prompt-queue.js';
import { PyError, isObject, type FakeStats, type JsonObject, type QueueItem } from './types.js';
import { validatePrompt } from './validate.js';
import { uploadImage } from './upload.js';
import { serveView } from './view.js';

export interface ServerDeps {
  queue: PromptQueue;
  dirs: OutputDirs;
  stats: FakeStats;
  acceptsPromptId: boolean;
  scopedInterrupt: boolean;
  /** server.number: the next `number` (negated for `front`), then incremented */
  takeNumber(front: boolean): number;
  enqueue(item: QueueItem): void;
  interrupt(): void;
  /** failNext: the status to answer instead, if this request is one of the next n */
  takeFailure(routeKey: string): number | undefined;
  queueInfo(): JsonObject;
}

/** 'GET /history/abc' and 'GET /api/history/abc' -> 'GET /history' */
export function routeKey(method: string, pathname: string): string {
  const p = pathname.startsWith('/api/') ? pathname.slice(4) : pathname;
  const m = /^\/(history|object_info|view_metadata)\/.+$/.exec(p);
  return `${method} ${m ? `/${m[1]}` : p}`;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};
const text = (res: ServerResponse, status: number, body = '') => {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
};
// aiohttp's answer to an unhandled exception in a handler (e.g. request.json() on a non-JSON body)
const internalError = (res: ServerResponse) => text(res, 500, '500 Internal Server Error\n\nServer got itself in trouble');

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown; // throws like json.loads
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/i;
/** server.py origin-only middleware: a loopback Host with a different Origin host gets 403. */
export function originAllowed(req: IncomingMessage): boolean {
  const host = req.headers.host?.toLowerCase();
  const origin = req.headers.origin;
  if (!host || !origin) return true;
  let o: URL;
  let h: URL;
  try {
    o = new URL(origin);
    h = new URL(`http://${host}`);
  } catch {
    return true;
  }
  if (!LOOPBACK.test(h.hostname)) return true;
  const hostSide = o.port ? host : h.hostname; // ports are compared only when both sides carry one
  const originSide = h.port ? o.host.toLowerCase() : o.hostname.toLowerCase();
  return hostSide === originSide;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function createHandler(deps: ServerDeps) {
  const { queue, stats } = deps;

  async function postPrompt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readJson(req);
    const body: JsonObject = isObject(raw) ? raw : {};
    const number = 'number' in body ? Number(body.number) : deps.takeNumber(Boolean(body.front));
    if (!Number.isFinite(number)) throw new PyError('ValueError', 'could not convert to float'); // float(): 500
    if (!('prompt' in body)) {
      const error = { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} };
      return json(res, 400, { error, node_errors: {} }); // `{}` since ComfyUI #7423 (Apr 2025), with the typed error
    }
    let promptId: string = randomUUID();
    const asked = body.prompt_id;
    if (deps.acceptsPromptId && asked !== undefined && asked !== null) {
      // comfy_execution/jobs.py validate_job_id: canonical lowercase hyphenated UUID only.
      // A duplicate id is not rejected: it is queued again and its history entry overwritten.
      if (typeof asked !== 'string' || !UUID.test(asked)) {
        const error = {
          type: 'invalid_prompt_id',
          message: 'prompt_id must be a valid UUID',
          details: 'prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one',
          extra_info: {},
        };
        return json(res, 400, { error, node_errors: {} });
      }
      promptId = asked;
    }
    const verdict = validatePrompt(body.prompt);
    const extra: JsonObject = isObject(body.extra_data) ? { ...body.extra_data } : {};
    if ('client_id' in body) extra.client_id = body.client_id;
    if (!verdict.ok) return json(res, 400, { error: verdict.error, node_errors: verdict.nodeErrors });
    extra.create_time = Date.now();
    deps.enqueue([number, promptId, verdict.prompt, extra, verdict.outputs]);
    stats.promptsSubmitted++;
    json(res, 200, { prompt_id: promptId, number, node_errors: verdict.nodeErrors });
  }

  async function postQueue(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (isObject(body)) {
      if (body.clear) queue.wipeQueue();
      if (Array.isArray(body.delete)) {
        for (const id of body.delete) {
          stats.deletes.push(String(id));
          if (typeof id === 'string') queue.deletePending(id);
        }
      }
    }
    text(res, 200);
  }

  async function postInterrupt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req).catch(() => ({})); // an empty or non-JSON body means "global"
    const promptId = isObject(body) && typeof body.prompt_id === 'string' && body.prompt_id ? body.prompt_id : undefined;
    stats.interrupts.push(promptId === undefined ? {} : { promptId });
    if (!deps.scopedInterrupt || promptId === undefined || queue.isRunning(promptId)) deps.interrupt();
    text(res, 200);
  }

  async function postHistory(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (isObject(body)) {
      if (body.clear) queue.wipeHistory();
      if (Array.isArray(body.delete)) for (const id of body.delete) queue.deleteHistory(String(id));
    }
    text(res, 200);
  }

  function getHistory(url: URL, res: ServerResponse): void {
    const int = (name: string) => {
      const v = url.searchParams.get(name);
      if (v === null) return undefined;
      if (!/^\s*[+-]?\d+\s*$/.test(v)) throw new PyError('ValueError', `invalid literal for int(): '${v}'`);
      return parseInt(v, 10);
    };
    json(res, 200, queue.getHistory({ maxItems: int('max_items'), offset: int('offset') }));
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const key = routeKey(req.method ?? 'GET', url.pathname);
    const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname;
    switch (key) {
      case 'GET /':
        return text(res, 200, 'fake ComfyUI');
      case 'GET /prompt':
        return json(res, 200, deps.queueInfo());
      case 'POST /prompt':
        return postPrompt(req, res);
      case 'GET /queue': {
        const { running, pending } = queue.current();
        return json(res, 200, { queue_running: running, queue_pending: pending });
      }
      case 'POST /queue':
        return postQueue(req, res);
      case 'POST /interrupt':
        return postInterrupt(req, res);
      case 'GET /history':
        if (path === '/history') return getHistory(url, res);
        return json(res, 200, queue.getHistory({ promptId: decodeURIComponent(path.slice('/history/'.length)) }));
      case 'POST /history':
        return postHistory(req, res);
      case 'GET /view':
        return serveView(url.searchParams, deps.dirs, res);
      case 'POST /upload/image':
        return uploadImage(req, res, deps.dirs);
      case 'GET /system_stats':
        return json(res, 200, systemStats());
      case 'GET /features':
        return json(res, 200, { supports_preview_metadata: true, max_upload_size: 104_857_600 });
      case 'GET /object_info': {
        const only = path === '/object_info' ? undefined : decodeURIComponent(path.slice('/object_info/'.length));
        return json(res, 200, objectInfo(deps.dirs.input, only));
      }
      case 'GET /ws':
        return text(res, 400, 'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".');
      default:
        return text(res, 404, '404: Not Found');
    }
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const key = routeKey(req.method ?? 'GET', url.pathname);
    stats.requests[key] = (stats.requests[key] ?? 0) + 1;
    const failure = deps.takeFailure(key);
    if (failure !== undefined) {
      req.resume();
      return text(res, failure, `${failure}: fake failure (failNext)`);
    }
    if (!originAllowed(req)) {
      req.resume();
      return text(res, 403);
    }
    route(req, res, url).catch(() => {
      if (!res.headersSent) internalError(res);
      else res.destroy();
    });
  };
}

function systemStats(): JsonObject {
  const gib = 1024 ** 3;
  return {
    system: {
      os: 'posix',
      ram_total: 64 * gib,
      ram_free: 48 * gib,
      comfyui_version: '0.3.64',
      required_frontend_version: '1.27.10',
      python_version: '3.12.3 (main) [GCC 13.2.0]',
      pytorch_version: '2.8.0+cu128',
      embedded_python: false,
      argv: ['main.py', '--listen', '127.0.0.1', '--port', '8188'],
    },
    devices: [
      {
        name: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync',
        type: 'cuda',
        index: 0,
        vram_total: 24 * gib,
        vram_free: 20 * gib,
        torch_vram_total: 0,
        torch_vram_free: 0,
      },
    ],
  };
}
