import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FakeAttempt } from '../../devstack/littlehorse/index.js';
import type { OutputFile } from '../../functions/execute-comfyui-workflow/outputs.js';

export const WORKFLOWS = path.resolve(import.meta.dirname, 'workflows');
export const workflowNames = () => readdirSync(WORKFLOWS).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

export function loadWorkflow(name: string): Graph {
  return JSON.parse(readFileSync(path.join(WORKFLOWS, `${name}.json`), 'utf8')) as Graph;
}

/** The graph with every EmptyImage given a colour of its own, so ComfyUI's cache does not skip the run. */
export function fresh(name: string): Graph {
  const graph = loadWorkflow(name);
  for (const node of Object.values(graph)) {
    if (node.class_type === 'EmptyImage') node.inputs.color = Math.floor(Math.random() * 0xffffff);
  }
  return graph;
}

/** A file as the worker reports it (the result's `outputs` entries). */
export type ReportedFile = OutputFile;
export interface Reported {
  prompt_id: string;
  outputs: ReportedFile[];
  data: Array<{ node_id: string; kind: string; value: unknown }>;
  skipped_outputs?: Array<{ node_id: string; class_type: string; errors: Array<Record<string, unknown>> }>;
}

export const resultOf = (attempt: FakeAttempt | undefined): Reported => JSON.parse(attempt?.output?.jsonObj ?? 'null') as Reported;
export const exceptionContent = (attempt: FakeAttempt | undefined) => JSON.parse(attempt?.exception?.content?.jsonObj ?? 'null') as Record<string, unknown>;

export const tempFolder = (label: string) => mkdtempSync(path.join(tmpdir(), `comfyui-real-${label}-`));

/** Every file under a folder, relative, with its size: what a run left on disk. */
export function filesUnder(dir: string | undefined): Map<string, number> {
  const files = new Map<string, number>();
  if (!dir || !existsSync(dir)) return files;
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (entry.isDirectory()) walk(rel);
      else files.set(rel, statSync(path.join(dir, rel)).size);
    }
  };
  walk('');
  return files;
}

/** Polls GET /queue until the prompt is running (or any prompt, without an id). */
export async function waitUntilRunning(url: string, promptId?: string, timeoutMs = 30_000): Promise<string> {
  const giveUpAt = Date.now() + timeoutMs;
  while (Date.now() < giveUpAt) {
    const queue = (await (await fetch(`${url}/queue`)).json()) as { queue_running: Array<[number, string]> };
    const running = queue.queue_running.find((item) => promptId === undefined || item[1] === promptId);
    if (running) return running[1];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no prompt${promptId ? ` ${promptId}` : ''} running on ComfyUI within ${timeoutMs} ms`);
}

export async function historyOf(url: string, promptId: string): Promise<{ status?: { status_str: string; messages: Array<[string, Record<string, unknown>]> }; outputs: Record<string, unknown> } | undefined> {
  const all = (await (await fetch(`${url}/history/${promptId}`)).json()) as Record<string, never>;
  return all[promptId];
}

export async function submitDirectly(url: string, graph: unknown): Promise<string> {
  const reply = await fetch(`${url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: graph }) });
  return ((await reply.json()) as { prompt_id: string }).prompt_id;
}
