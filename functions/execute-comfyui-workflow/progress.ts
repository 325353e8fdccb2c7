import type { ComfyEvent } from '../../lib/comfyui/messages.js';
import type { StructuredLog } from './ports.js';
import type { Workflow } from './workflow.js';

/** Sampler progress is logged at most once per this fraction of the steps (so 1,000 steps log ~10 lines). */
const STEP_FRACTION = 0.1;

/**
 * Turns ComfyUI's live events for one prompt into task log lines: node started, sampler step n/m
 * (throttled), cached nodes. Structured logs get the same lines with their fields at DEBUG: at
 * INFO they would be a dozen lines per task in the operator's logs, repeating what the TaskRun's
 * own log output already holds (and, measured, a third of the worker's CPU per task).
 */
export class ProgressLog {
  private readonly lastLoggedStep = new Map<string, number>();

  constructor(
    private readonly workflow: Workflow,
    private readonly promptId: string,
    private readonly log: (line: string) => void,
    private readonly logger: StructuredLog,
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
    this.logger.debug(line, { promptId: this.promptId, ...fields });
  }
}
