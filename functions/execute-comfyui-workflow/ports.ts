import type { ComfyEvent, HistoryEntry, Queue } from './comfy-messages.js';
import type { InvalidNode } from './failure.js';
import type { OutputFile } from './outputs.js';
import type { Workflow } from './workflow.js';

/** What the handler needs of ComfyUI's HTTP API (lib/comfyui/client.ts implements it). */
export interface ComfyApi {
  submitPrompt(
    request: { workflow: Workflow; promptId?: string; clientId?: string; extraData?: Record<string, unknown> },
    signal?: AbortSignal,
  ): Promise<{ promptId: string; invalidNodes: InvalidNode[] }>;
  getQueue(signal?: AbortSignal): Promise<Queue>;
  getHistory(promptId: string, signal?: AbortSignal): Promise<HistoryEntry | undefined>;
  deleteFromQueue(promptIds: string[], signal?: AbortSignal): Promise<void>;
  interrupt(promptId: string, signal?: AbortSignal): Promise<void>;
}

export type LiveSignal = { type: 'event'; event: ComfyEvent } | { type: 'connected' } | { type: 'disconnected' };

/** ComfyUI's WebSocket as the handler sees it (lib/comfyui/live-socket.ts implements it). */
export interface LiveEvents {
  readonly clientId: string;
  readonly connected: boolean;
  listen(listener: (signal: LiveSignal) => void): () => void;
}

/** Where an output landed in object storage; merged into its result entry. */
export interface StoredOutput {
  uri: string;
  size: number;
  sha256: string;
  content_type: string;
  /** A time-limited GET URL, when asked for. */
  presigned_url?: string;
  /** null when the file is not in this worker's output folder (it was read through ComfyUI's /view). */
  path?: null;
}

/** Uploads one output to object storage, under the same key on every attempt of a TaskRun. */
export type StoreOutput = (file: OutputFile, signal: AbortSignal) => Promise<StoredOutput>;

/** What a loader node reads: the family of content types its file input accepts. */
export type MediaKind = 'image' | 'audio' | 'video';

/**
 * Fetches a media input (https:, s3:, gs: or data: URI; or takes its bytes as given), uploads it to ComfyUI's input folder in a
 * subfolder of this TaskRun, and resolves to the value the loader must be given ("subfolder/name").
 * Throws a FailureError: unavailable when the source may answer later, comfyui-invalid-input when not.
 */
export type PlaceInput = (source: string | MediaBytes, input: { nodeId: string; input: string; media: MediaKind }, signal: AbortSignal) => Promise<string>;

/** A media input's own bytes (a LittleHorse BYTES variable): the type read from them, and a name to store them under. */
export interface MediaBytes {
  data: Uint8Array;
  contentType: string;
  name: string;
}

/** Fetches an output file from ComfyUI (GET /view) to a local path. */
export type DownloadOutput = (file: OutputFile, destination: string, signal: AbortSignal) => Promise<void>;

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Structured logs (Powertools' Logger fits); the correlation keys are the caller's business. */
export interface StructuredLog {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface HandlerSettings {
  outputDir: string;
  pollIntervalMs: number;
  historyTimeoutMs: number;
  /** While the socket is up, history is still read this often, to catch a socket gone silent. */
  watchdogIntervalMs: number;
  includeTempOutputs: boolean;
  /** Run the valid outputs of a partly invalid graph and list the skipped ones, instead of failing it. */
  allowPartial: boolean;
  /** Each task's output files in a subfolder of its own (filename_prefix rewritten). */
  outputPerTask: boolean;
}

/** Ties the ComfyUI prompt to its LittleHorse TaskRun so a later attempt never runs it twice. */
export interface PromptIdentity {
  /** The id to submit this attempt under. */
  promptId: string;
  /** Ids earlier attempts of the same TaskRun used: attach to one still queued, running or successful. */
  earlierPromptIds: string[];
  extraData: Record<string, unknown>;
}

export interface HandlerDeps {
  comfy: ComfyApi;
  /** Absent when live events are switched off: completion is then seen by polling history. */
  live?: LiveEvents;
  /** Present when outputs are fetched through /view instead of read from a shared folder. */
  download?: DownloadOutput;
  /** Puts media inputs given as URLs or data: URIs into ComfyUI's input folder. */
  placeInput?: PlaceInput;
  /** Present when outputs go to object storage (after any download). */
  store?: StoreOutput;
  /** The task's log output in LittleHorse, one line per call. */
  log: (line: string) => void;
  logger: StructuredLog;
  clock: Clock;
  /** Aborted when the work must stop (deadline, shutdown); its reason says why. */
  signal: AbortSignal;
  settings: HandlerSettings;
  identity?: PromptIdentity;
  /** How long stopping a prompt on ComfyUI may take now (a shutdown leaves less than usual). */
  cleanupBudgetMs?: (usualMs: number) => number;
}
