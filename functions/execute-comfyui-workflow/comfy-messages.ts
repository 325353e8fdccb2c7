import { z } from 'zod';

/**
 * ComfyUI's HTTP replies and WebSocket messages, parsed at the edge.
 * Shapes from ComfyUI's server.py (routes, send_json), execution.py (validate_prompt,
 * PromptExecutor.execute) and main.py (prompt_worker). Unknown fields are kept (loose objects)
 * because ComfyUI versions add fields freely.
 */


const nodeErrorSchema = z.looseObject({
  type: z.string().optional(),
  message: z.string().optional(),
  details: z.unknown().optional(),
  extra_info: z.unknown().optional(),
});

const nodeErrorsSchema = z.record(
  z.string(),
  z.looseObject({
    errors: z.array(nodeErrorSchema).default([]),
    dependent_outputs: z.array(z.unknown()).optional(),
    class_type: z.string().optional(),
  }),
);

export const promptRejectedSchema = z.looseObject({
  // Very old versions sent a plain string here.
  error: z.union([z.string(), nodeErrorSchema]).optional(),
  // `[]` when the body had no prompt at all (server.py post_prompt).
  node_errors: z
    .union([nodeErrorsSchema, z.array(z.unknown()).transform((): z.infer<typeof nodeErrorsSchema> => ({}))])
    .optional(),
});
export type PromptRejected = z.infer<typeof promptRejectedSchema>;

/** A 200: queued, with node_errors for any output branch that failed validation and was left out. */
export const promptAcceptedSchema = z.looseObject({
  prompt_id: z.string().min(1),
  number: z.number().optional(),
  node_errors: promptRejectedSchema.shape.node_errors.catch({}),
});

/** A queue item is [number, prompt_id, prompt, extra_data, outputs_to_execute, ...]: read by index. */
const queueItemSchema = z
  .array(z.unknown())
  .min(2)
  .transform((item) => ({
    promptId: String(item[1]),
    extraData: (typeof item[3] === 'object' && item[3] !== null ? item[3] : {}) as Record<string, unknown>,
  }));
export type QueueItem = z.infer<typeof queueItemSchema>;

export const queueSchema = z.looseObject({
  queue_running: z.array(queueItemSchema),
  queue_pending: z.array(queueItemSchema),
});
export type Queue = z.infer<typeof queueSchema>;

/** Whether the prompt is running or waiting in ComfyUI's queue. */
export function queueHolds(queue: Queue, promptId: string): boolean {
  return queue.queue_running.some((item) => item.promptId === promptId) || queue.queue_pending.some((item) => item.promptId === promptId);
}

export const historyEntrySchema = z.looseObject({
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  status: z
    .looseObject({
      status_str: z.string().optional(),
      completed: z.boolean().optional(),
      messages: z.array(z.tuple([z.string(), z.unknown()]).rest(z.unknown())).default([]),
    })
    .optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** GET /history/{id}: `{}` until recorded, then `{ "<id>": entry }`. */
export const historyReplySchema = z.record(z.string(), z.unknown());

// ---- WebSocket events (text frames: {type, data}) ----
// Read by hand, not with zod: a dozen or more frames arrive per prompt and most go to nobody (other
// prompts', or while idle); a typeof per field costs a fraction of a schema parse. Each reader checks
// what the worker relies on and normalizes in place (node ids to strings) the object JSON.parse
// made; unknown fields stay, as ComfyUI versions add them freely.

type Fields = Record<string, unknown>;

export interface ExecutionError extends Fields {
  prompt_id: string;
  node_id?: string;
  node_type?: string;
  exception_message?: string;
  exception_type?: string;
  traceback?: string[] | string;
  executed?: unknown[];
}

export interface ExecutionInterrupted extends Fields {
  prompt_id: string;
  node_id?: string;
  node_type?: string;
}

/** The live events the worker acts on; any other type (status, progress_state, custom nodes') is skipped. */
export type ComfyEvent =
  | { type: 'execution_start'; data: Fields & { prompt_id: string } }
  | { type: 'execution_cached'; data: Fields & { prompt_id: string; nodes: string[] } }
  /** node null = the prompt is finished and its history written (main.py prompt_worker). */
  | { type: 'executing'; data: Fields & { node: string | null; prompt_id?: string } }
  | { type: 'progress'; data: Fields & { value: number; max: number; prompt_id?: string; node?: string | null } }
  | { type: 'executed'; data: Fields & { prompt_id: string; node: string } }
  | { type: 'execution_success'; data: Fields & { prompt_id: string } }
  | { type: 'execution_error'; data: ExecutionError }
  | { type: 'execution_interrupted'; data: ExecutionInterrupted };

const isFields = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);
const asNodeId = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;

/** An optional field of the wrong type is dropped rather than the whole event. */
function optional(data: Fields, key: string, read: (value: unknown) => unknown): void {
  if (data[key] === undefined) return;
  const value = read(data[key]);
  if (value === undefined) delete data[key];
  else data[key] = value;
}
const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
const nodeOrNull = (value: unknown) => (value === null ? null : asNodeId(value));

/** Each reader: whether the data fits, normalizing it in place (shapes from server.py and execution.py). */
const readers: Record<ComfyEvent['type'], (data: Fields) => boolean> = {
  execution_start: (data) => typeof data.prompt_id === 'string',
  execution_success: (data) => typeof data.prompt_id === 'string',
  execution_cached: (data) => {
    if (typeof data.prompt_id !== 'string') return false;
    const nodes = Array.isArray(data.nodes) ? data.nodes.map(asNodeId) : data.nodes === undefined ? [] : undefined;
    if (nodes === undefined || nodes.includes(undefined)) return false;
    data.nodes = nodes;
    return true;
  },
  executing: (data) => {
    const node = nodeOrNull(data.node);
    if (node === undefined) return false;
    data.node = node;
    optional(data, 'prompt_id', text);
    return true;
  },
  progress: (data) => {
    if (typeof data.value !== 'number' || typeof data.max !== 'number') return false;
    optional(data, 'prompt_id', text);
    optional(data, 'node', nodeOrNull);
    return true;
  },
  executed: (data) => {
    const node = asNodeId(data.node);
    if (typeof data.prompt_id !== 'string' || node === undefined) return false;
    data.node = node;
    return true;
  },
  execution_error: (data) => {
    if (typeof data.prompt_id !== 'string') return false;
    optional(data, 'node_id', asNodeId);
    for (const key of ['node_type', 'exception_message', 'exception_type']) optional(data, key, text);
    optional(data, 'traceback', (value) => (typeof value === 'string' || (Array.isArray(value) && value.every((line) => typeof line === 'string')) ? value : undefined));
    optional(data, 'executed', (value) => (Array.isArray(value) ? value : undefined));
    return true;
  },
  execution_interrupted: (data) => {
    if (typeof data.prompt_id !== 'string') return false;
    optional(data, 'node_id', asNodeId);
    optional(data, 'node_type', text);
    return true;
  },
};

const TYPE_FIRST = /^\{\s*"type"\s*:\s*"([^"\\]*)"/;

/**
 * One text frame → a typed event; `undefined` for message types we do not use (custom nodes send
 * their own) and for frames that do not parse, so one odd message never breaks the socket.
 */
export function parseEvent(text: string): ComfyEvent | undefined {
  // server.py send_json writes {"type": …, "data": …}: the type can be read before parsing, and
  // messages nobody here reads (status, progress_state: the bulk of the traffic) skip JSON.parse.
  const peeked = TYPE_FIRST.exec(text)?.[1];
  if (peeked !== undefined && !Object.hasOwn(readers, peeked)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isFields(json) || typeof json.type !== 'string' || !Object.hasOwn(readers, json.type) || !isFields(json.data)) return undefined;
  const type = json.type as ComfyEvent['type'];
  return readers[type](json.data) ? ({ type, data: json.data } as ComfyEvent) : undefined;
}

/** The prompt an event is about, if it says. */
export function eventPromptId(event: ComfyEvent): string | undefined {
  return event.data.prompt_id;
}
