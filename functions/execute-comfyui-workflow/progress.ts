import type { ComfyEvent } from './comfy-messages.js';
import type { StructuredLog } from './ports.js';
import type { Workflow } from './workflow.js';

/** Sampler progress is logged at most once per this fraction of the steps (so 1,000 steps log ~10 lines). */
const STEP_FRACTION = 0.1;
/** Structured logs get a progress line at INFO at most this often per prompt; the others at DEBUG. */
const INFO_INTERVAL_MS = 5_000;

/**
 * Turns ComfyUI's live events for one prompt into task log lines: node started, sampler step n/m
 * (throttled), cached nodes. Structured logs get the same lines with their fields, at INFO at most
 * every few seconds and at DEBUG otherwise: every line at INFO would be a dozen per task in the
 * operator's logs, repeating the TaskRun's own log output (and, measured, a third of the worker's
 * CPU per task), while a long GPU run still shows its progress there.
 */
export class ProgressLog {
  private readonly lastLoggedStep = new Map<string, number>();
  private lastInfoAt = -Infinity;

  constructor(
    private readonly workflow: Workflow,
    private readonly promptId: string,
    private readonly log: (line: string) => void,
    private readonly logger: StructuredLog,
    private readonly now: () => number,
  ) {}

  onEvent(event: ComfyEvent): void {
    switch (event.type) {
      case 'execution_start':
        return this.emit('execution started', { event: event.type });
      case 'execution_cached':
        if (event.data.nodes.length > 0) {
          this.emit(`cached nodes: ${event.data.nodes.map((id) => this.describe(id)).join(', ')}`, {
            event: event.type,
            nodes: event.data.nodes,
          });
        }
        return;
      case 'executing':
        if (event.data.node !== null) this.emit(`node ${this.describe(event.data.node)} started`, { event: event.type, node: event.data.node });
        return;
      case 'progress':
        return this.onProgress(event.data.node ?? '?', event.data.value, event.data.max);
      case 'executed':
        return this.logger.debug('node produced output', { promptId: this.promptId, event: event.type, node: event.data.node });
      default:
        return;
    }
  }

  private onProgress(node: string, value: number, max: number): void {
    const last = this.lastLoggedStep.get(node);
    const stride = Math.max(1, Math.floor(max * STEP_FRACTION));
    const due = last === undefined || value >= max || value - last >= stride || value < last;
    if (!due) return;
    this.lastLoggedStep.set(node, value);
    this.emit(`node ${this.describe(node)} step ${value}/${max}`, { event: 'progress', node, value, max });
  }

  private describe(nodeId: string): string {
    const classType = this.workflow[nodeId]?.class_type;
    return classType ? `${nodeId} (${classType})` : nodeId;
  }

  private emit(line: string, fields: Record<string, unknown>): void {
    this.log(line);
    const now = this.now();
    if (now - this.lastInfoAt >= INFO_INTERVAL_MS) {
      this.lastInfoAt = now;
      this.logger.info(line, { promptId: this.promptId, ...fields });
    } else {
      this.logger.debug(line, { promptId: this.promptId, ...fields });
    }
  }
}
