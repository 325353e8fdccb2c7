// execution.py `PromptQueue`: a heap of pending items ordered by (number, prompt_id), the running
// item(s) keyed by task number, and an insertion-ordered history capped at MAXIMUM_HISTORY_SIZE.
import type { HistoryEntry, QueueItem, RunResult } from './types.js';

export const MAXIMUM_HISTORY_SIZE = 10_000;

// Python tuple comparison on the first two fields (number, prompt_id).
const less = (a: QueueItem, b: QueueItem): boolean => (a[0] !== b[0] ? a[0] < b[0] : a[1] < b[1]);

// The same sift steps as Python's heapq, so GET /queue lists queue_pending in the real heap order
// (not sorted: clients must sort by number themselves).
function siftDown(heap: QueueItem[], start: number, pos: number): void {
  const item = heap[pos] as QueueItem;
  while (pos > start) {
    const parentPos = (pos - 1) >> 1;
    const parent = heap[parentPos] as QueueItem;
    if (!less(item, parent)) break;
    heap[pos] = parent;
    pos = parentPos;
  }
  heap[pos] = item;
}
function siftUp(heap: QueueItem[], pos: number): void {
  const end = heap.length;
  const start = pos;
  const item = heap[pos] as QueueItem;
  let child = 2 * pos + 1;
  while (child < end) {
    const right = child + 1;
    if (right < end && !less(heap[child] as QueueItem, heap[right] as QueueItem)) child = right;
    heap[pos] = heap[child] as QueueItem;
    pos = child;
    child = 2 * pos + 1;
  }
  heap[pos] = item;
  siftDown(heap, start, pos);
}
function heapPush(heap: QueueItem[], item: QueueItem): void {
  heap.push(item);
  siftDown(heap, 0, heap.length - 1);
}
function heapPop(heap: QueueItem[]): QueueItem | undefined {
  const last = heap.pop();
  if (last === undefined || heap.length === 0) return last;
  const top = heap[0];
  heap[0] = last;
  siftUp(heap, 0);
  return top;
}
function heapify(heap: QueueItem[]): void {
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftUp(heap, i);
}

export class PromptQueue {
  private heap: QueueItem[] = [];
  private readonly running = new Map<number, QueueItem>();
  private history = new Map<string, HistoryEntry>();
  private taskCounter = 0;

  /** `onChange` is server.queue_updated(): a `status` broadcast. */
  constructor(private readonly onChange: () => void) {}

  put(item: QueueItem): void {
    heapPush(this.heap, item);
    this.onChange();
  }

  /** Pops the first pending item into the running set. */
  get(): { item: QueueItem; taskId: number } | undefined {
    const item = heapPop(this.heap);
    if (!item) return undefined;
    const taskId = this.taskCounter++;
    this.running.set(taskId, structuredClone(item));
    this.onChange();
    return { item, taskId };
  }

  /** Records history for a finished task (PromptQueue.task_done). False if the task was forgotten. */
  taskDone(taskId: number, result: RunResult): boolean {
    const prompt = this.running.get(taskId);
    if (!prompt) return false;
    this.running.delete(taskId);
    if (this.history.size > MAXIMUM_HISTORY_SIZE) {
      const oldest = this.history.keys().next();
      if (!oldest.done) this.history.delete(oldest.value);
    }
    // A duplicate prompt_id overwrites the earlier entry in place (a dict keeps the key's position).
    this.history.set(prompt[1], {
      prompt,
      outputs: result.outputs,
      status: { status_str: result.success ? 'success' : 'error', completed: result.success, messages: result.messages },
      meta: result.meta,
    });
    this.onChange();
    return true;
  }

  current(): { running: QueueItem[]; pending: QueueItem[] } {
    return { running: [...this.running.values()], pending: [...this.heap] };
  }

  isRunning(promptId: string): boolean {
    return [...this.running.values()].some((item) => item[1] === promptId);
  }

  remaining(): number {
    return this.heap.length + this.running.size;
  }

  wipeQueue(): void {
    this.heap = [];
    this.onChange();
  }

  /** Removes the first pending item with this id; the running one is never touched. */
  deletePending(promptId: string): boolean {
    const index = this.heap.findIndex((item) => item[1] === promptId);
    if (index < 0) return false;
    if (this.heap.length === 1) {
      this.wipeQueue(); // ComfyUI then calls queue_updated() a second time: two `status` messages
    } else {
      this.heap.splice(index, 1);
      heapify(this.heap);
    }
    this.onChange();
    return true;
  }

  /** PromptQueue.get_history: one entry, or a window of max_items from offset (default: the newest). */
  getHistory(opts: { promptId?: string; maxItems?: number; offset?: number } = {}): Record<string, HistoryEntry> {
    if (opts.promptId !== undefined) {
      const entry = this.history.get(opts.promptId);
      return entry ? { [opts.promptId]: structuredClone(entry) } : {};
    }
    let offset = opts.offset ?? -1;
    if (offset < 0 && opts.maxItems !== undefined) offset = this.history.size - opts.maxItems;
    const out: Record<string, HistoryEntry> = {};
    let i = 0;
    for (const [id, entry] of this.history) {
      if (i >= offset) {
        out[id] = entry;
        if (opts.maxItems !== undefined && Object.keys(out).length >= opts.maxItems) break;
      }
      i++;
    }
    return out;
  }

  entry(promptId: string): HistoryEntry | undefined {
    return this.history.get(promptId);
  }

  deleteHistory(promptId: string): void {
    this.history.delete(promptId);
  }

  wipeHistory(): void {
    this.history = new Map();
  }

  /** The process restarted: everything in memory is gone. */
  reset(): void {
    this.heap = [];
    this.running.clear();
    this.history = new Map();
    this.taskCounter = 0;
  }
}
