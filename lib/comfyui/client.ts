import { randomUUID } from 'node:crypto';
import type { Failure } from '../../functions/execute-comfyui-workflow/failure.js';
import { FailureError, type InvalidNode, unavailable, validationFailure } from '../../functions/execute-comfyui-workflow/failure.js';
import type { Workflow } from '../../functions/execute-comfyui-workflow/workflow.js';
import { type ObjectInfo, objectInfoSchema } from '../../functions/templates/comfy-check.js';
import { backoffMs, sleep } from '../backoff.js';
import type { ComfyHttp, HttpReply } from './http.js';
import {
  type HistoryEntry,
  type Queue,
  historyEntrySchema,
  historyReplySchema,
  promptAcceptedSchema,
  type PromptRejected,
  promptRejectedSchema,
  queueHolds,
  queueSchema,
} from '../../functions/execute-comfyui-workflow/comfy-messages.js';
import type { z } from 'zod';

export interface SubmitRequest {
  workflow: Workflow;
  /** A caller-chosen id; ComfyUI versions that do not accept one answer with their own. */
  promptId?: string;
  clientId?: string;
  extraData?: Record<string, unknown>;
}

export interface SubmittedPrompt {
  promptId: string;
  /** Output branches ComfyUI left out (validate_prompt keeps the valid outputs and queues those). */
  invalidNodes: InvalidNode[];
}

/** ComfyUI's HTTP API: each reply parsed at the edge into a typed value or a Failure. */
export class ComfyClient {
  constructor(private readonly http: ComfyHttp) {}

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /**
   * POST /prompt → the prompt id, and the nodes ComfyUI refused while queuing the rest (a 200 with
   * node_errors); a 400 becomes a validation Failure naming every node error.
   * Never queues the same prompt twice: ComfyUI does not de-duplicate prompt ids (server.py
   * post_prompt queues a known id again), so a request whose answer was lost (timeout, reset, a
   * proxy's 5xx) is not blindly repeated: the id is looked for in the queue and history first.
   */
  async submitPrompt(request: SubmitRequest, signal?: AbortSignal): Promise<SubmittedPrompt> {
    // Always under an id of ours, so a lost answer can be looked for. A ComfyUI too old to take
    // one answers with its own id, and then a lost answer cannot be told from a refused request.
    const promptId = request.promptId ?? randomUUID();
    const body = {
      prompt: request.workflow,
      prompt_id: promptId,
      ...(request.clientId === undefined ? {} : { client_id: request.clientId }),
      ...(request.extraData === undefined ? {} : { extra_data: request.extraData }),
    };
    const attempts = this.http.retries + 1;
    for (let attempt = 1; ; attempt++) {
      const result = await this.http.jsonOnce('POST', '/prompt', body, signal);
      if (result.ok) return accepted(result.reply);
      const last = attempt === attempts;
      if (last && !result.mayHaveArrived) throw this.http.gaveUp(result.problem, 'POST', '/prompt', attempts);
      // The backoff also gives a request ComfyUI is still handling time to reach its queue.
      await sleep(backoffMs(attempt - 1, 200, 2_000), signal);
      // Found after a lost answer: its node_errors went with that answer (a partly valid graph then runs its valid part).
      if (result.mayHaveArrived && (await this.isKnown(promptId, signal))) return { promptId, invalidNodes: [] };
      if (last) throw this.http.gaveUp(result.problem, 'POST', '/prompt', attempts);
    }
  }

  /** Whether ComfyUI has the prompt: queued, running or finished. */
  private async isKnown(promptId: string, signal?: AbortSignal): Promise<boolean> {
    // Queue before history: a prompt that finishes in between is then still seen in history.
    return (await this.isInQueue(promptId, signal)) || (await this.getHistory(promptId, signal)) !== undefined;
  }

  /** GET /queue: the running and pending prompts. */
  async getQueue(signal?: AbortSignal): Promise<Queue> {
    return expect(await this.http.json('GET', '/queue', undefined, signal), queueSchema, 'GET /queue');
  }

  /** Whether the prompt is running or waiting in ComfyUI's queue. */
  async isInQueue(promptId: string, signal?: AbortSignal): Promise<boolean> {
    const queue = await this.getQueue(signal);
    return queueHolds(queue, promptId);
  }

  /** GET /history/{id}: the entry, or undefined while the prompt has not finished. */
  async getHistory(promptId: string, signal?: AbortSignal): Promise<HistoryEntry | undefined> {
    const path = `/history/${encodeURIComponent(promptId)}`;
    const all = expect(await this.http.json('GET', path, undefined, signal), historyReplySchema, 'GET /history');
    const entry = all[promptId];
    if (entry === undefined) return undefined;
    const parsed = historyEntrySchema.safeParse(entry);
    if (!parsed.success) throw new FailureError(unexpected('GET /history', parsed.error.issues[0]?.message));
    return parsed.data;
  }

  /** POST /queue {delete}: removes pending prompts (ComfyUI leaves the running one alone). */
  async deleteFromQueue(promptIds: string[], signal?: AbortSignal): Promise<void> {
    expectOk(await this.http.json('POST', '/queue', { delete: promptIds }, signal), 'POST /queue');
  }

  /** POST /interrupt {prompt_id}: recent ComfyUI interrupts only if that prompt is the one running. */
  async interrupt(promptId: string, signal?: AbortSignal): Promise<void> {
    expectOk(await this.http.json('POST', '/interrupt', { prompt_id: promptId }, signal), 'POST /interrupt');
  }

  /** GET /object_info: every node class with its inputs, option lists and ranges (megabytes: read once, at start). */
  async objectInfo(signal?: AbortSignal): Promise<ObjectInfo> {
    return expect(await this.http.json('GET', '/object_info', undefined, signal), objectInfoSchema, 'GET /object_info');
  }

  /** GET /system_stats answers once ComfyUI is up: the readiness probe. */
  async systemStats(signal?: AbortSignal, options?: { retries: number }): Promise<unknown> {
    const reply = await this.http.json('GET', '/system_stats', undefined, signal, options);
    expectOk(reply, 'GET /system_stats');
    return reply.body;
  }
}

function rejectionFailure(rejected: PromptRejected): Failure {
  const error = typeof rejected.error === 'string' ? { message: rejected.error } : (rejected.error ?? {});
  return validationFailure(
    {
      type: 'type' in error ? (error.type ?? null) : null,
      message: error.message ?? 'ComfyUI rejected the workflow',
      details: 'details' in error ? (error.details ?? null) : null,
    },
    invalidNodes(rejected.node_errors),
  );
}

/** ComfyUI's node_errors (execution.py validate_prompt) as a list, each reason kept whole. */
export function invalidNodes(nodeErrors: PromptRejected['node_errors']): InvalidNode[] {
  return Object.entries(nodeErrors ?? {}).map(([nodeId, node]) => ({
    node_id: nodeId,
    class_type: node.class_type ?? null,
    errors: node.errors.map((e) => ({ type: e.type ?? null, message: e.message ?? null, details: e.details ?? null, extra_info: e.extra_info ?? null })),
    dependent_outputs: (node.dependent_outputs ?? []).map(String),
  }));
}

function expect<T extends z.ZodType>(reply: HttpReply, schema: T, route: string): z.infer<T> {
  expectOk(reply, route);
  const parsed = schema.safeParse(reply.body);
  if (!parsed.success) throw new FailureError(unexpected(route, parsed.error.issues[0]?.message));
  return parsed.data;
}

/** A POST /prompt answer below 500 → the prompt id and any refused nodes, or the Failure it stands for. */
function accepted(reply: HttpReply): SubmittedPrompt {
  if (reply.status === 400) {
    const rejected = promptRejectedSchema.safeParse(reply.body);
    if (rejected.success) throw new FailureError(rejectionFailure(rejected.data));
  }
  const answer = expect(reply, promptAcceptedSchema, 'POST /prompt');
  return { promptId: answer.prompt_id, invalidNodes: invalidNodes(answer.node_errors) };
}

function expectOk(reply: HttpReply, route: string): void {
  if (reply.status >= 200 && reply.status < 300) return;
  const hint =
    reply.status === 403
      ? ' (ComfyUI refuses requests whose Origin and Host disagree; check COMFYUI_BASE_URL and any proxy in between)'
      : reply.status === 404
        ? ' (is COMFYUI_BASE_URL the ComfyUI server itself?)'
        : '';
  throw new FailureError(unavailable(`ComfyUI answered HTTP ${reply.status} on ${route}${hint}: ${summarize(reply.body)}`));
}

function unexpected(route: string, problem: string | undefined): Failure {
  return unavailable(`ComfyUI sent an unexpected reply to ${route}: ${problem ?? 'unreadable'}`);
}

function summarize(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? '');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
