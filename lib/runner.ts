import type { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config.js';
import { ExitCode } from './exit-codes.js';
import type { ComfyClient } from './comfyui/client.js';
import type { LiveSocket } from './comfyui/live-socket.js';
import type { DownloadOutput } from '../functions/execute-comfyui-workflow/ports.js';
import { comfyDependency } from './comfyui/readiness.js';
import { sleep } from './backoff.js';
import type { LittleHorseConnections } from './littlehorse/connection.js';
import { type PolledTask, TaskPoller } from './littlehorse/poller.js';
import { deliverReport, toReport } from './littlehorse/report.js';
import { unavailable } from '../functions/execute-comfyui-workflow/failure.js';
import { littleHorseDependency } from './littlehorse/readiness.js';
import { ensureTaskDef } from './littlehorse/task-def.js';
import type { InputPlacer } from './media/input-placer.js';
import type { OutputStore } from './storage/s3-output-store.js';
import { type StartupResult, waitForDependencies } from './startup.js';
import { executeTask, type RunningTask, type TaskExecutionDeps } from './task-execution.js';
import { ShutdownClock, STOP_AND_REPORT_MS } from './shutdown-clock.js';
import { TaskTimeouts } from './littlehorse/task-timeout.js';
import { ComfyHealth } from './comfyui/health.js';
import { waitForInterruptedPrompt } from './comfyui/interrupted-prompt.js';
import { backlogGauge } from './littlehorse/backlog.js';
import { publishBacklog } from './metrics/backlog-publisher.js';
import type { TaskMetrics } from './metrics/task-metrics.js';
import { checkTemplatesOnComfy } from './templates/check-on-comfy.js';
import type { ServedTemplates } from './templates/load.js';
import { ensureTemplateTaskDefs } from './templates/task-defs.js';

export interface RunnerDeps {
  config: Config;
  connections: LittleHorseConnections;
  comfy: ComfyClient;
  live?: LiveSocket;
  download?: DownloadOutput;
  store?: OutputStore;
  inputs?: InputPlacer;
  logger: Logger;
  metrics: TaskMetrics;
  /** Read from COMFYUI_TEMPLATES_DIR at start; checked against ComfyUI before any task is taken. */
  templates: ServedTemplates;
}

/** While start-up keeps failing the same way, how often to say so again. */
const STARTUP_REPORT_EVERY_MS = 10_000;

/**
 * The long-poll runner: waits for ComfyUI, makes sure the TaskDef exists, polls LittleHorse, runs one
 * task at a time through the handler and reports each one. The same code is the long-lived service and
 * the scheduled job that drains the queue and exits; `stop()` is the graceful shutdown both share.
 */
export class Runner {
  private readonly inbox: PolledTask[] = [];
  private readonly stopController = new AbortController();
  private wakeUp: () => void = () => {};
  private current: RunningTask | undefined;
  private poller: TaskPoller | undefined;
  private health: ComfyHealth | undefined;
  private pollerStopped: Promise<void> = Promise.resolve();
  private stopBacklog: () => void = () => {};
  private readonly shutdownClock: ShutdownClock;
  private readonly timeouts: TaskTimeouts;
  private tasksDone = 0;
  private taskDefEnsured = false;
  /** The templates served; once checked against this ComfyUI, with their input bounds narrowed to its own. */
  private templates: ServedTemplates;
  /** Reports LittleHorse never received: the exit code must not claim every task was reported. */
  private undelivered = 0;
  private crashed = false;
  /** Reports still being delivered: finished tasks' and surplus tasks' (handed back TASK_FAILED). */
  private readonly reporting = new Set<Promise<void>>();

  constructor(private readonly deps: RunnerDeps) {
    this.shutdownClock = new ShutdownClock(deps.config.worker.shutdownGraceMs);
    this.timeouts = new TaskTimeouts(() => deps.connections.bootstrap(), deps.logger);
    this.templates = deps.templates;
  }

  get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  async run(): Promise<ExitCode> {
    const { config, comfy, logger, live } = this.deps;
    const startedAt = Date.now();
    const started = await this.startUp();
    if (!started.ready || this.stopping) {
      // Stopped during start-up (no exit code of its own: 0), or a dependency failed.
      await this.poller?.stop();
      return started.ready ? ExitCode.OK : (started.exitCode ?? ExitCode.OK);
    }
    const refused = await this.checkTemplates();
    if (refused !== undefined || this.stopping) {
      await this.poller?.stop();
      return refused ?? ExitCode.OK;
    }
    this.health = new ComfyHealth({
      comfy,
      live,
      logger,
      onChange: (healthy) => {
        this.deps.metrics.comfyUiUp(healthy);
        this.updateWanting();
      },
    });
    this.deps.metrics.comfyUiUp(true);
    this.publishBacklog();
    if (config.worker.maxRuntimeMs !== undefined) this.scheduleRuntimeBudget(startedAt, config.worker.maxRuntimeMs);
    logger.info('worker ready', { event: 'worker-ready', taskName: config.worker.taskName, templates: [...this.templates.keys()], mode: config.worker.runMode, hosts: this.poller?.hostCount, startupMs: Date.now() - startedAt });

    // What every task is run with, built once.
    const health = this.health;
    const taskDeps: TaskExecutionDeps = {
      connections: this.deps.connections,
      comfy,
      live,
      download: this.deps.download,
      store: this.deps.store,
      inputs: this.deps.inputs,
      logger,
      settings: {
        outputDir: config.comfy.outputDir,
        pollIntervalMs: config.comfy.pollIntervalMs,
        historyTimeoutMs: config.comfy.historyTimeoutMs,
        watchdogIntervalMs: config.comfy.watchdogIntervalMs,
        includeTempOutputs: config.comfy.includeTempOutputs,
        allowPartial: config.comfy.allowPartial,
        outputPerTask: config.comfy.outputPerTask,
      },
      timeoutMarginMs: config.worker.timeoutMarginMs,
      comfyReady: (signal) => health.ready(signal),
      shutdown: this.shutdownClock,
      timeouts: this.timeouts,
      metrics: this.deps.metrics,
      templates: this.templates,
    };

    let lastActivity = Date.now();
    while (!this.stopping) {
      this.updateWanting();
      const task = this.inbox.shift() ?? (await this.nextTask(lastActivity));
      if (!task) continue;
      this.current = executeTask(task, taskDeps);
      // ComfyUI is free once the outcome is known: the report goes out beside the next task's start.
      this.trackReport(this.current.reported);
      const outcome = await this.current.outcome;
      // Not free after an interrupt: ComfyUI finishes the running node first (issue 13).
      if (!outcome.ok && outcome.interruptedPromptId) await waitForInterruptedPrompt(comfy, outcome.interruptedPromptId, { logger, signal: this.stopController.signal });
      this.current = undefined;
      if (!outcome.ok && outcome.failure.kind === 'unavailable') this.health.check();
      this.tasksDone++;
      lastActivity = Date.now();
      if (config.worker.maxTasks > 0 && this.tasksDone >= config.worker.maxTasks) this.stop(`LHW_MAX_TASKS=${config.worker.maxTasks} reached`);
    }
    await this.shutdown();
    if (this.crashed) return ExitCode.CRASH;
    if (this.undelivered > 0) {
      logger.error('exiting with reports LittleHorse never received', { undeliveredReports: this.undelivered });
      return ExitCode.REPORT_UNDELIVERED;
    }
    return ExitCode.OK;
  }

  /**
   * Graceful stop: no new work at once (not one more PollTaskRequest); the task in hand gets
   * LHW_SHUTDOWN_GRACE_SEC, then is stopped on ComfyUI and reported, all within one deadline
   * (see ShutdownClock).
   */
  stop(reason: string): void {
    if (this.stopping) return;
    this.deps.logger.info('stopping', { event: 'stopping', reason, taskInHand: this.current !== undefined });
    this.shutdownClock.start();
    this.stopController.abort(new Error(reason));
    this.pollerStopped = this.poller?.stop() ?? Promise.resolve();
    this.wakeUp();
    const current = this.current;
    if (!current) return;
    const grace = this.deps.config.worker.shutdownGraceMs;
    setTimeout(
      () => current.controller.abort(new Error(`Worker shutting down (${reason}): the task did not finish within LHW_SHUTDOWN_GRACE_SEC=${grace / 1000}; LittleHorse may retry it elsewhere.`)),
      grace,
    ).unref();
  }

  /**
   * An error nothing caught (a throw in a socket listener, a rejected promise nobody awaited): the
   * process cannot be trusted to go on, so the task in hand is stopped now and reported, then run()
   * ends with exit code 1.
   */
  crash(error: unknown): void {
    this.crashed = true;
    const detail = error instanceof Error ? error.message : String(error);
    this.stop(`unexpected error in the worker: ${detail}`);
    this.current?.controller.abort(new Error(`The worker hit an unexpected error (${detail}) and stopped this task; LittleHorse may retry it elsewhere.`));
  }

  /** ComfyUI and LittleHorse at once, so that one start says what is wrong with each. */
  private startUp(): Promise<StartupResult> {
    const { config, comfy, connections, logger, live } = this.deps;
    return waitForDependencies(
      [
        comfyDependency({
          baseUrl: config.comfy.baseUrl,
          // The socket opens as soon as ComfyUI answers, not once LittleHorse does too: by the time the
          // worker is ready it is connected, so a ComfyUI going away right after is noticed.
          probe: async (signal) => {
            await comfy.systemStats(signal, { retries: 0 });
            live?.start();
          },
          timeoutMs: config.comfy.startTimeoutMs,
        }),
        littleHorseDependency({ config: config.littlehorse, address: connections.bootstrapAddress, attempt: (signal) => this.registerWithLittleHorse(signal) }),
      ],
      { logger, clock: { now: Date.now, sleep }, signal: this.stopController.signal, reportEveryMs: STARTUP_REPORT_EVERY_MS },
    );
  }

  /**
   * Every template checked against the ComfyUI it will run on (one GET /object_info), once both
   * dependencies answer and before any task is asked for. Resolves the exit code when one cannot run.
   */
  private async checkTemplates(): Promise<ExitCode | undefined> {
    const { comfy, logger } = this.deps;
    const checked = await checkTemplatesOnComfy(this.templates, comfy, this.stopController.signal).catch((error: unknown) => error as Error);
    if (this.stopping) return undefined;
    if (checked instanceof Error) {
      logger.error(`could not read ComfyUI's node catalogue (GET /object_info) to check the templates: ${checked.message}`, { exitCode: ExitCode.COMFYUI_NOT_READY });
      return ExitCode.COMFYUI_NOT_READY;
    }
    if (!checked.ok) {
      for (const problem of checked.problems) logger.error(problem, { exitCode: ExitCode.TEMPLATE_REFUSED });
      return ExitCode.TEMPLATE_REFUSED;
    }
    this.templates = checked.templates;
    return undefined;
  }

  /** One try at what the worker needs from LittleHorse: its TaskDef, then registering and opening the poll streams. */
  private async registerWithLittleHorse(signal: AbortSignal): Promise<void> {
    const { config, connections, logger } = this.deps;
    if (!this.taskDefEnsured) {
      const { taskDef, created } = await ensureTaskDef(connections.bootstrap(), config.worker.taskName, signal);
      const inputs = taskDef.inputVars.map((v) => v.name);
      logger.info(created ? 'TaskDef created' : 'TaskDef found', { event: created ? 'taskdef-created' : 'taskdef-found', taskName: config.worker.taskName, inputs });
      for (const [name, { taskDef, created }] of await ensureTemplateTaskDefs(connections.bootstrap(), this.templates, signal)) {
        logger.info(created ? 'TaskDef created' : 'TaskDef found', { event: created ? 'taskdef-created' : 'taskdef-found', taskName: name, inputs: taskDef.inputVars.map((v) => v.name) });
      }
      this.taskDefEnsured = true;
    }
    this.poller ??= new TaskPoller({
      connections,
      taskNames: [config.worker.taskName, ...this.templates.keys()],
      maxReceiveMessageLength: config.littlehorse.maxReceiveMessageLength,
      heartbeatMs: config.worker.heartbeatMs,
      rotateMs: config.worker.pollRotateMs,
      workerId: config.worker.workerId,
      workerVersion: config.worker.workerVersion,
      logger,
      onTask: (task) => this.onTask(task),
    });
    await this.poller.start();
  }

  /** Waits for a task; in job mode gives up (and stops) once none has come for LHW_IDLE_EXIT_SEC. */
  private async nextTask(lastActivity: number): Promise<PolledTask | undefined> {
    const { worker } = this.deps.config;
    const idleLeft = worker.runMode === 'job' ? lastActivity + worker.idleExitMs - Date.now() : Infinity;
    if (idleLeft <= 0 && !this.current) {
      this.stop(`no task for LHW_IDLE_EXIT_SEC=${worker.idleExitMs / 1000}`);
      return undefined;
    }
    await new Promise<void>((resolve) => {
      this.wakeUp = resolve;
      if (Number.isFinite(idleLeft)) setTimeout(resolve, idleLeft).unref();
    });
    return this.inbox.shift();
  }

  /**
   * The one place that decides whether to ask LittleHorse for work: not stopping, no task in hand or
   * waiting, and ComfyUI answering. The poller withdraws a parked request when this turns false.
   */
  private updateWanting(): void {
    const wanting = !this.stopping && !this.current && this.inbox.length === 0 && (this.health?.healthy ?? true);
    this.poller?.want(wanting);
  }

  private onTask(task: PolledTask): void {
    // With one request outstanding this only happens when a withdrawn request was answered anyway.
    if (this.current || this.inbox.length > 0) return this.turnAway(task);
    this.inbox.push(task);
    this.updateWanting();
    this.wakeUp();
  }

  /** A task that came while another is in hand is handed back at once, so it never times out here. */
  private turnAway(polled: PolledTask): void {
    const { task, address } = polled;
    this.deps.logger.warn('task arrived while another is in hand; reporting it TASK_FAILED so LittleHorse retries it elsewhere', {
      event: 'task-handed-back',
      taskRunId: `${task.taskRunId?.wfRunId?.id}/${task.taskRunId?.taskGuid}`,
      address,
    });
    const reason = this.stopping
      ? `Worker stopped before starting this task (${this.stopReason()}); LittleHorse may retry it elsewhere.`
      : 'This worker was already running another task when LittleHorse handed it this one (a poll request answered after it was withdrawn); LittleHorse may retry it elsewhere.';
    this.trackReport(this.reportNotStarted(polled, reason));
  }

  private trackReport(delivered: Promise<boolean>): void {
    const settled: Promise<void> = delivered.then((ok) => {
      if (!ok) this.undelivered++;
      this.reporting.delete(settled);
    });
    this.reporting.add(settled);
  }

  private async reportNotStarted({ task, address }: PolledTask, message: string): Promise<boolean> {
    const undelivered = await deliverReport(
      toReport(task, { ok: false, failure: unavailable(message) }, [], new Date()),
      { clients: this.deps.connections.reportClients(address), budgetMs: this.stopping ? this.shutdownClock.reportBudgetMs() : 5_000 },
    );
    if (undelivered) this.deps.logger.error('report could not be delivered', { event: 'report-undelivered', taskRunId: task.taskRunId, error: undelivered.message });
    return !undelivered;
  }

  private stopReason(): string {
    return String((this.stopController.signal.reason as Error | undefined)?.message ?? 'stopping');
  }

  /** Job mode: stop taking work early enough to finish (or stop) and report the task in hand. */
  private scheduleRuntimeBudget(startedAt: number, maxRuntimeMs: number): void {
    const stopAt = startedAt + maxRuntimeMs - this.deps.config.worker.shutdownGraceMs - STOP_AND_REPORT_MS;
    setTimeout(() => this.stop(`LHW_MAX_RUNTIME_SEC=${maxRuntimeMs / 1000} nearly used`), Math.max(0, stopAt - Date.now())).unref();
  }

  /** COMFYUI_WORKER_BACKLOG_INTERVAL_SEC: this worker publishes how many tasks wait in LittleHorse. */
  private publishBacklog(): void {
    const { config, connections, logger, metrics } = this.deps;
    const intervalMs = config.metrics.backlogIntervalMs;
    if (intervalMs <= 0) return;
    const measure = backlogGauge(connections.bootstrap(), config.worker.taskName);
    this.stopBacklog = publishBacklog({ intervalMs, measure, metrics, logger });
  }

  /** Tasks taken but never started (a withdrawn request answered late) are reported, never dropped. */
  private async shutdown(): Promise<void> {
    this.stopBacklog();
    await this.pollerStopped;
    const reason = `Worker stopped before starting this task (${this.stopReason()}); LittleHorse may retry it elsewhere.`;
    for (const task of this.inbox.splice(0)) this.trackReport(this.reportNotStarted(task, reason));
    await Promise.all(this.reporting);
    this.health?.close();
    this.deps.live?.close();
  }
}
