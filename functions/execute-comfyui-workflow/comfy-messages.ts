import { z } from 'zod';

/**
 * ComfyUI's HTTP replies and WebSocket messages, parsed at the edge.
 * Shapes from ComfyUI's server.py (routes, send_json), execution.py (validate_prompt,
 * PromptExecutor.execute) and main.py (prompt_worker). Unknown fields are kept (loose objects)
 * because ComfyUI versions add fields freely.
 */

export const promptAcceptedSchema = z.looseObject({
  prompt_id: z.string().min(1),
  number: z.number().optional(),
  node_errors: z.unknown().optional(),
});

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

const promptScoped = { prompt_id: z.string() };

export const executionErrorSchema = z.looseObject({
  ...promptScoped,
  node_id: z.union([z.string(), z.number()]).transform(String).optional(),
  node_type: z.string().optional(),
  exception_message: z.string().optional(),
  exception_type: z.string().optional(),
  traceback: z.union([z.array(z.string()), z.string()]).optional(),
  executed: z.array(z.unknown()).optional(),
});
export type ExecutionError = z.infer<typeof executionErrorSchema>;

export const executionInterruptedSchema = z.looseObject({
  ...promptScoped,
  node_id: z.union([z.string(), z.number()]).transform(String).optional(),
  node_type: z.string().optional(),
});

/** The live events the worker acts on; any other type (status, progress_state, custom nodes') is skipped. */
const eventSchemas = {
  execution_start: z.looseObject(promptScoped),
  execution_cached: z.looseObject({ ...promptScoped, nodes: z.array(z.union([z.string(), z.number()]).transform(String)).default([]) }),
  executing: z.looseObject({
    // node null = the prompt is finished and its history written (main.py prompt_worker).
    node: z.union([z.string(), z.number()]).transform(String).nullable(),
    display_node: z.unknown().optional(),
    prompt_id: z.string().optional(),
  }),
  progress: z.looseObject({
    value: z.number(),
    max: z.number(),
    prompt_id: z.string().optional(),
    node: z.union([z.string(), z.number()]).transform(String).nullable().optional(),
  }),
  executed: z.looseObject({
    ...promptScoped,
    node: z.union([z.string(), z.number()]).transform(String),
    output: z.unknown().optional(),
  }),
  execution_success: z.looseObject(promptScoped),
  execution_error: executionErrorSchema,
  execution_interrupted: executionInterruptedSchema,
} as const;

type EventSchemas = typeof eventSchemas;
export type ComfyEvent = {
  [K in keyof EventSchemas]: { type: K; data: z.infer<EventSchemas[K]> };
}[keyof EventSchemas];

const TYPE_FIRST = /^\{\s*"type"\s*:\s*"([^"\\]*)"/;

const envelopeSchema = z.looseObject({ type: z.string(), data: z.unknown() });

/**
 * One text frame → a typed event; `undefined` for message types we do not use (custom nodes send
 * their own) and for frames that do not parse, so one odd message never breaks the socket.
 */
export function parseEvent(text: string): ComfyEvent | undefined {
  // server.py send_json writes {"type": …, "data": …}: the type can be read before parsing, and
  // messages nobody here reads (status, progress_state: the bulk of the traffic) skip JSON.parse.
  const peeked = TYPE_FIRST.exec(text)?.[1];
  if (peeked !== undefined && !(peeked in eventSchemas)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success || !(envelope.data.type in eventSchemas)) return undefined;
  const type = envelope.data.type as keyof EventSchemas;
  const data = eventSchemas[type].safeParse(envelope.data.data);
  return data.success ? ({ type, data: data.data } as ComfyEvent) : undefined;
}

/** The prompt an event is about, if it says. */
export function eventPromptId(event: ComfyEvent): string | undefined {
  return event.data.prompt_id;
}
