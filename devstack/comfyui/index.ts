// A fake ComfyUI server for tests, the demo and the benchmark: real HTTP and WebSocket on 127.0.0.1,
// real files in a temp folder, ComfyUI's message order (ComfyUI `execution.py` `PromptExecutor.execute`,
// `main.py` `prompt_worker`; routes and the WebSocket in `server.py`).
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Aborted, executePrompt, type ExecContext } from './executor.js';
import type { OutputDirs } from './outputs.js';
import { PromptQueue } from './prompt-queue.js';
import { createHandler, originAllowed, routeKey } from './server.js';
import { SocketHub } from './socket.js';
import type { FakeComfy, FakeComfyOptions, FakeStats, HistoryEntry, LostAnswer, QueueItem, RunScript } from './types.js';

export type { FakeComfy, FakeComfyOptions, FakeStats, HistoryEntry, LostAnswer, QueueItem, RunResult, RunScript } from './types.js';

function makeDir(given: string | undefined, label: string, created: string[]): string {
  if (given) {
    mkdirSync(given, { recursive: true });
    return path.resolve(given);
  }
  const dir = mkdtempSync(path.join(tmpdir(), `fake-comfy-${label}-`));
  created.push(dir);
  return dir;
}

class FakeComfyServer implements FakeComfy {
  runTimeMs: number;
  historyDelayMs = 0;
  hostileFilenames = false;
  readonly stats: FakeStats = { requests: {}, wsConnections: 0, promptsSubmitted: 0, interrupts: [], deletes: [] };
  readonly events = new EventEmitter();
  readonly outputDir: string;
  readonly tempDir: string;
  readonly inputDir: string;
  url = '';

  private readonly created: string[] = [];
  private readonly dirs: OutputDirs;
  private readonly scripts: RunScript[] = [];
  private readonly assigned = new WeakMap<QueueItem, RunScript>();
  private readonly failures: Array<{ status: number; route?: string }> = [];
  private readonly lostAnswers: LostAnswer[] = [];
  private readonly connections = new Set<Socket>();
  private readonly queue = new PromptQueue(() => this.hub.send('status', { status: this.queueInfo() }));
  private readonly hub: SocketHub;
  private readonly http: Server;
  private number = 0;
  private interruptFlag = false;
  private current: { clientId: string | null; lastNodeId: string | null } = { clientId: null, lastNodeId: null };
  private epoch = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly sleepers = new Set<() => void>();
  private readonly outputCache = new Map<string, Record<string, unknown> | null>();
  private port: number;

  constructor(private readonly opts: FakeComfyOptions) {
    this.runTimeMs = opts.runTimeMs ?? 0;
    this.port = opts.port ?? 0;
    this.outputDir = makeDir(opts.outputDir, 'output', this.created);
    this.tempDir = makeDir(opts.tempDir, 'temp', this.created);
    this.inputDir = makeDir(opts.inputDir, 'input', this.created);
    this.dirs = { output: this.outputDir, temp: this.tempDir, input: this.inputDir };
    this.hub = new SocketHub({
      queueInfo: () => this.queueInfo(),
      current: () => this.current,
      allowed: originAllowed,
      onConnect: () => this.stats.wsConnections++,
    });
    this.http = createServer(
      createHandler({
        queue: this.queue,
        dirs: this.dirs,
        stats: this.stats,
        acceptsPromptId: opts.acceptsPromptId ?? true,
        scopedInterrupt: opts.scopedInterrupt ?? true,
        takeNumber: (front) => {
          const n = front ? -this.number : this.number;
          this.number++;
          return n;
        },
        enqueue: (item) => this.enqueue(item),
        interrupt: () => {
          this.interruptFlag = true;
        },
        takeFailure: (key) => this.takeFailure(key),
        queueInfo: () => this.queueInfo(),
      }),
    );
    this.http.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const isPost = req.method === 'POST' && routeKey('POST', new URL(req.url ?? '/', 'http://x').pathname) === 'POST /prompt';
      const lose = isPost ? this.lostAnswers.shift() : undefined;
      if (lose) loseAnswer(res, lose);
    });
    this.http.on('connection', (socket: Socket) => {
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
    });
    this.hub.attach(this.http);
  }

  get silent(): boolean {
    return this.hub.silent;
  }
  set silent(value: boolean) {
    this.hub.silent = value;
  }
  get refuseSockets(): boolean {
    return this.hub.refuse;
  }
  set refuseSockets(value: boolean) {
    this.hub.refuse = value;
  }

  private queueInfo() {
    return { exec_info: { queue_remaining: this.queue.remaining() } };
  }

  private enqueue(item: QueueItem): void {
    const script = this.scripts.shift();
    if (script) this.assigned.set(item, script);
    this.queue.put(item);
    this.events.emit('queued', item[1]);
    this.wake?.();
  }

  /** A rule's route is '/history' (any method) or 'GET /history'; '/api' prefixes and ids are ignored. */
  private takeFailure(key: string): number | undefined {
    const matches = (route: string | undefined) => {
      if (route === undefined) return true;
      const [method, p] = route.includes(' ') ? (route.split(' ', 2) as [string, string]) : [undefined, route];
      const wanted = routeKey(method ?? 'ANY', p);
      return method ? wanted === key : wanted.slice(4) === key.slice(key.indexOf(' ') + 1);
    };
    const index = this.failures.findIndex((f) => matches(f.route));
    if (index < 0) return undefined;
    return this.failures.splice(index, 1)[0]?.status;
  }

  private sleep(ms: number, epoch: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        clearImmediate(immediate);
        this.sleepers.delete(done);
        if (this.epoch !== epoch) reject(new Aborted('fake ComfyUI restarted'));
        else resolve();
      };
      // A zero-time run must take no time: setTimeout(0) waits at least 1 ms per node and step.
      const timer = ms > 0 ? setTimeout(done, ms) : undefined;
      const immediate = ms > 0 ? undefined : setImmediate(done);
      this.sleepers.add(done);
    });
  }

  /** main.py prompt_worker: one prompt at a time, history written before `executing {node: null}`. */
  async loop(): Promise<void> {
    while (!this.stopped) {
      const next = this.queue.get();
      if (!next) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const { item, taskId } = next;
      const epoch = this.epoch;
      const promptId = item[1];
      const ctx: ExecContext = {
        hub: this.hub,
        dirs: this.dirs,
        steps: this.opts.steps ?? 4,
        runTimeMs: this.opts.runTimeFor?.(item[2] as Record<string, unknown>) ?? this.runTimeMs,
        sendExecutionSuccess: this.opts.sendExecutionSuccess ?? true,
        hostileFilenames: () => this.hostileFilenames,
        interrupted: () => this.interruptFlag,
        setInterrupted: (v) => (this.interruptFlag = v),
        setCurrent: (clientId, lastNodeId) => {
          if (this.epoch === epoch) this.current = { clientId, lastNodeId };
        },
        sleep: (ms) => this.sleep(ms, epoch),
        cache: this.opts.cache ? this.outputCache : undefined,
      };
      try {
        this.events.emit('started', promptId);
        const result = await executePrompt(ctx, item, this.assigned.get(item) ?? { kind: 'success' });
        this.events.emit('finished', promptId, result.success ? 'success' : 'error');
        await this.sleep(this.historyDelayMs, epoch);
        if (!this.queue.taskDone(taskId, result)) continue;
        this.events.emit('history-written', promptId);
        const clientId = typeof item[3].client_id === 'string' ? item[3].client_id : null;
        if (clientId !== null) this.hub.send('executing', { node: null, prompt_id: promptId }, clientId);
      } catch (ex) {
        if (ex instanceof Aborted) continue;
        console.error('fake ComfyUI: prompt %s crashed the double', promptId, ex);
        this.queue.taskDone(taskId, { success: false, outputs: {}, meta: {}, messages: [] });
      }
    }
  }

  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const address = this.http.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  script(...runs: RunScript[]): void {
    this.scripts.push(...runs);
  }

  dropSockets(): void {
    this.hub.dropAll();
  }

  async down(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.hub.dropAll();
    for (const socket of this.connections) socket.destroy();
    await closed;
  }

  up(): Promise<void> {
    return this.listen();
  }

  restart(): void {
    this.epoch++;
    this.queue.reset();
    this.number = 0;
    this.interruptFlag = false;
    this.outputCache.clear();
    this.current = { clientId: null, lastNodeId: null };
    for (const wakeSleeper of [...this.sleepers]) wakeSleeper();
    this.hub.dropAll(); // a restarted process has no open sockets
  }

  failNext(n: number, status = 503, route?: string): void {
    for (let i = 0; i < n; i++) this.failures.push(route === undefined ? { status } : { status, route });
  }

  loseNextPromptAnswers(n: number, how: LostAnswer = 'reset'): void {
    for (let i = 0; i < n; i++) this.lostAnswers.push(how);
  }

  history(promptId: string): HistoryEntry | undefined {
    return this.queue.entry(promptId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.restart();
    this.wake?.();
    this.hub.close();
    if (this.http.listening) await this.down();
    for (const dir of this.created) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The request is handled as usual (a prompt is queued), then its answer never arrives: the
 * connection is cut ('reset') or a 502 goes out instead ('bad-gateway', a proxy timing out).
 */
function loseAnswer(res: ServerResponse, how: LostAnswer): void {
  const writeHead = res.writeHead.bind(res);
  const end = res.end.bind(res);
  res.writeHead = (() => res) as typeof res.writeHead;
  res.end = (() => {
    if (how === 'reset') res.socket?.destroy();
    else {
      writeHead(502, { 'Content-Type': 'text/plain; charset=utf-8' });
      end('502: Bad Gateway');
    }
    return res;
  }) as typeof res.end;
}

/** Starts a fake ComfyUI on 127.0.0.1 (port 0 by default: any free port). */
export async function startFakeComfy(opts: FakeComfyOptions = {}): Promise<FakeComfy> {
  const fake = new FakeComfyServer(opts);
  await fake.listen();
  void fake.loop();
  return fake;
}
