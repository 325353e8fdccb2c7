// Shared shapes of the fake ComfyUI server. Names follow ComfyUI's own (server.py, execution.py).
import type { EventEmitter } from 'node:events';

/** How the next prompt "runs". Assigned to a prompt when it is submitted (POST /prompt), in order. */
export type RunScript =
  | { kind: 'success' }
  | { kind: 'cached' }
  | { kind: 'error'; nodeId?: string; exceptionType?: string; message?: string }
  | { kind: 'interrupted' };

/** How an answer is lost: the connection cut ('reset'), or a proxy's 502 ('bad-gateway'). */
export type LostAnswer = 'reset' | 'bad-gateway';

export interface FakeComfyOptions {
  host?: string;
  port?: number;
  outputDir?: string;
  tempDir?: string;
  inputDir?: string;
  runTimeMs?: number;
  /** A run time per prompt (the benchmark's mixed durations); undefined falls back to runTimeMs. */
  runTimeFor?: (prompt: Record<string, unknown>) => number | undefined;
  steps?: number;
  sendExecutionSuccess?: boolean;
  acceptsPromptId?: boolean;
  scopedInterrupt?: boolean;
  /**
   * Keep ComfyUI's output cache: a node whose class and inputs (links included) are those of the
   * previous prompt's is not run again, and a graph sent twice executes nothing. Off by default, so
   * every run of the same sample workflow does the same work (tests, the benchmark).
   */
  cache?: boolean;
}

/** The running fake. Knobs can be changed at any time; runTimeMs applies from the next prompt that starts. */
export interface FakeComfy {
  /** 'http://127.0.0.1:PORT' */
  readonly url: string;
  readonly outputDir: string;
  readonly tempDir: string;
  readonly inputDir: string;
  /** Scripts for the next submitted prompts, in order (taken when POST /prompt accepts one). */
  script(...runs: RunScript[]): void;
  runTimeMs: number;
  /** The history entry (and the final `executing {node: null}`) comes this long after the run ends. */
  historyDelayMs: number;
  /** File entries come out as '../escape.png' and with an absolute subfolder (VHS fullpath '/etc/passwd'). */
  hostileFilenames: boolean;
  /** Sockets stay open but nothing is sent to anyone, not even a pong (ComfyUI #3390). */
  silent: boolean;
  /** Terminates every open WebSocket now. */
  dropSockets(): void;
  /** While true, WebSocket upgrades get 503; HTTP still works. */
  refuseSockets: boolean;
  /** Stops listening and cuts every connection (connection refused); the prompt worker keeps going. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** The process restarted: queue, running prompt, history and prompt numbers are gone, sockets are cut. */
  restart(): void;
  /** The next n POST /prompt are handled (a valid prompt is queued) but their answer is lost. */
  loseNextPromptAnswers(n: number, how?: LostAnswer): void;
  /** The next n HTTP requests (optionally only to a route: '/history' or 'GET /history') answer `status`. */
  failNext(n: number, status?: number, route?: string): void;
  readonly stats: FakeStats;
  /** 'queued' (id), 'started' (id), 'finished' (id, 'success' | 'error'), 'history-written' (id) */
  readonly events: EventEmitter;
  history(promptId: string): HistoryEntry | undefined;
  /** Stops everything and deletes the folders the fake created itself. */
  stop(): Promise<void>;
}

export type JsonObject = Record<string, unknown>;

/** API-format graph: `{ "<node id>": { class_type, inputs, _meta? } }`. Validated before it is queued. */
export interface PromptNode {
  class_type: string;
  inputs: JsonObject;
  _meta?: { title?: string };
}
export type ApiPrompt = Record<string, PromptNode>;

/** `[number, prompt_id, prompt, extra_data, outputs_to_execute]` (execution.py PromptQueue items). */
export type QueueItem = [number, string, ApiPrompt, JsonObject, string[]];

export type StatusMessage = [string, JsonObject];

export interface NodeMeta {
  node_id: string;
  display_node: string;
  parent_node: string | null;
  real_node_id: string;
}

export interface HistoryEntry {
  prompt: QueueItem;
  outputs: Record<string, JsonObject>;
  status: { status_str: 'success' | 'error'; completed: boolean; messages: StatusMessage[] };
  meta: Record<string, NodeMeta>;
}

/** What one execution produced: main.py hands this to PromptQueue.task_done. */
export interface RunResult {
  success: boolean;
  outputs: Record<string, JsonObject>;
  meta: Record<string, NodeMeta>;
  messages: StatusMessage[];
}

export interface FakeStats {
  /** by 'METHOD /route' without the /api prefix and without ids, e.g. 'GET /history', 'POST /prompt' */
  requests: Record<string, number>;
  wsConnections: number;
  promptsSubmitted: number;
  interrupts: Array<{ promptId?: string }>;
  deletes: string[];
}

/** A Python exception as ComfyUI would report it: `full_type_name(type)` and `str(ex)`. */
export class PyError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

export const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
