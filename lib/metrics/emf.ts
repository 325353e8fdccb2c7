import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Backlog, TaskFinished, TaskMetrics } from './task-metrics.js';

export const METRICS_NAMESPACE = 'ComfyUIWorker';
/** While ComfyUI is down the 0 is printed again this often (see comfyUiUp). */
const DOWN_REPEAT_MS = 30_000;

/**
 * CloudWatch embedded metric format through Powertools: one JSON line on stdout per flush, which
 * CloudWatch Logs turns into metrics without an agent (ECS awslogs, Lambda) and Cloud Logging can
 * count with log-based metrics. Dimension `TaskDef` only; a TASK_EXCEPTION line also carries the
 * set [TaskDef, Exception]. Every call publishes at once, so a line never mixes two tasks.
 */
export class EmfMetrics implements TaskMetrics {
  private readonly metrics: Metrics;
  private downTimer: NodeJS.Timeout | undefined;

  constructor(
    taskDefName: string,
    logger: Logger,
    private readonly downRepeatMs = DOWN_REPEAT_MS,
  ) {
    // Powertools' own warnings go to our structured log, never as bare text beside the EMF lines.
    this.metrics = new Metrics({ namespace: METRICS_NAMESPACE, logger });
    // Powertools adds a `service` dimension by default: the alarms and scaling policies key on TaskDef alone.
    this.metrics.clearDefaultDimensions();
    this.metrics.setDefaultDimensions({ TaskDef: taskDefName });
  }

  taskFinished(task: TaskFinished): void {
    const m = this.metrics;
    const { end } = task;
    if (end.status === 'exception') {
      // Two dimension sets on one line: [TaskDef] (an empty set adds just the defaults) and [TaskDef, Exception].
      m.addDimensions({});
      m.addDimensions({ Exception: end.exceptionName });
    }
    m.addMetric('TasksSucceeded', MetricUnit.Count, end.status === 'success' ? 1 : 0);
    m.addMetric('TaskExceptions', MetricUnit.Count, end.status === 'exception' ? 1 : 0);
    m.addMetric('TasksFailed', MetricUnit.Count, end.status === 'failed' ? 1 : 0);
    m.addMetric('ReportsUndelivered', MetricUnit.Count, task.delivered ? 0 : 1);
    m.addMetric('RunTimeMs', MetricUnit.Milliseconds, task.runTimeMs);
    if (task.claimToStartMs !== undefined) m.addMetric('ClaimToStartMs', MetricUnit.Milliseconds, task.claimToStartMs);
    m.addMetric('SocketFallbacks', MetricUnit.Count, task.socketFallbacks);
    m.addMetadata('taskRunId', task.taskRunId);
    m.publishStoredMetrics();
  }

  /**
   * A line at each change, and the 0 again every 30 s while ComfyUI stays down: in a fleet, one
   * worker's later 1 would otherwise hide another's 0 from an alarm on the Minimum.
   */
  comfyUiUp(up: boolean): void {
    clearInterval(this.downTimer);
    this.downTimer = undefined;
    this.printUp(up);
    if (!up) this.downTimer = setInterval(() => this.printUp(false), this.downRepeatMs).unref();
  }

  private printUp(up: boolean): void {
    this.metrics.addMetric('ComfyUIUp', MetricUnit.Count, up ? 1 : 0);
    this.metrics.publishStoredMetrics();
  }

  backlog(backlog: Backlog): void {
    this.metrics.addMetric('BacklogCount', MetricUnit.Count, backlog.count);
    this.metrics.addMetric('BacklogAge', MetricUnit.Seconds, Math.round((backlog.oldestAgeMs ?? 0) / 1000));
    this.metrics.publishStoredMetrics();
  }
}
