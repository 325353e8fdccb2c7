import WebSocket from 'ws';

/** What ComfyUI sent: every /ws text message and the HTTP answers the recording asked for, with ms since connect. */
export type TranscriptEntry =
  | { t: number; type: string; data: Record<string, unknown> }
  | { t: number; http: string; status?: number; body?: unknown };
export type Transcript = TranscriptEntry[];

export interface Recording {
  graph: unknown;
  /** POST /interrupt {prompt_id} as soon as this node starts (`executing`), with a GET /queue taken just before. */
  interruptAtNode?: string;
  /** Run the graph once before recording, so the recorded run is a cached re-run. */
  warmUp?: boolean;
}

async function runOnce(url: string, graph: unknown, timeoutMs: number): Promise<void> {
  const reply = await fetch(`${url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: graph }) });
  const { prompt_id: promptId } = (await reply.json()) as { prompt_id: string };
  const giveUpAt = Date.now() + timeoutMs;
  while (Date.now() < giveUpAt) {
    const history = (await (await fetch(`${url}/history/${promptId}`)).json()) as Record<string, unknown>;
    if (history[promptId]) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`warm-up prompt ${promptId} did not finish within ${timeoutMs} ms`);
}

const isMessage = (e: TranscriptEntry): e is Extract<TranscriptEntry, { type: string }> => 'type' in e;

/**
 * Records one prompt on a ComfyUI (the real one or the simulator, the same way): connect /ws, POST
 * /prompt, optionally interrupt it once a given node runs (with a GET /queue taken then), wait for its end
 * (`executing {node: null}`), read /history. A 400 is recorded and the socket closed shortly after.
 */
export async function recordPrompt(url: string, recording: Recording, timeoutMs = 60_000): Promise<Transcript> {
  if (recording.warmUp) await runOnce(url, recording.graph, timeoutMs);
  const clientId = `record-${Date.now()}`;
  const entries: Transcript = [];
  const started = Date.now();
  const t = () => Date.now() - started;
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?clientId=${clientId}`);
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const message = JSON.parse(String(data)) as { type: string; data: Record<string, unknown> };
    entries.push({ t: t(), type: message.type, data: message.data });
    for (const waiter of [...waiters]) waiter();
  });
  const until = (predicate: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  try {
    await until(() => entries.some((e) => isMessage(e) && e.type === 'status'), 'the first status message');
    const reply = await fetch(`${url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: recording.graph, client_id: clientId }) });
    const body = (await reply.json()) as { prompt_id?: string };
    entries.push({ t: t(), http: 'POST /prompt', status: reply.status, body });
    const promptId = body.prompt_id;
    if (reply.status !== 200 || !promptId) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return entries;
    }
    if (recording.interruptAtNode !== undefined) {
      const node = recording.interruptAtNode;
      await until(() => entries.some((e) => isMessage(e) && e.type === 'executing' && e.data.node === node), `node ${node} starting`);
      const queue = await fetch(`${url}/queue`);
      entries.push({ t: t(), http: 'GET /queue', status: queue.status, body: await queue.json() });
      const interrupted = await fetch(`${url}/interrupt`, { method: 'POST', body: JSON.stringify({ prompt_id: promptId }) });
      entries.push({ t: t(), http: 'POST /interrupt', status: interrupted.status });
    }
    await until(() => entries.some((e) => isMessage(e) && e.type === 'executing' && e.data.node === null && e.data.prompt_id === promptId), 'the end of the prompt');
    const history = await fetch(`${url}/history/${promptId}`);
    entries.push({ t: t(), http: 'GET /history/{id}', status: history.status, body: await history.json() });
    return entries;
  } finally {
    ws.close();
  }
}

/** The order of message types, progress_state left out (its count depends on timing). */
export const messageTypes = (transcript: Transcript): string[] =>
  transcript.filter(isMessage).filter((e) => e.type !== 'progress_state' && e.type !== 'feature_flags').map((e) => e.type);

export const messages = (transcript: Transcript, type: string) => transcript.filter(isMessage).filter((e) => e.type === type);
export const httpEntry = (transcript: Transcript, route: string) =>
  transcript.find((e): e is Extract<TranscriptEntry, { http: string }> => 'http' in e && e.http === route);

/**
 * The shape of a JSON value: objects by their keys (each key's shape), arrays by their items'
 * shapes merged, values by their type. Ids, timestamps, file names and counts drop out.
 */
export function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) {
    const shapes = [...new Set(value.map((item) => JSON.stringify(shapeOf(item))))];
    return shapes.map((s) => JSON.parse(s) as unknown);
  }
  if (value === null) return 'null';
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shapeOf(v)]));
  }
  return typeof value;
}
