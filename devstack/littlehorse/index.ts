import type { EventEmitter } from 'node:events';
import { type CallContext, createServer, type Server, ServerError, Status } from 'nice-grpc';
import { ServerCredentials } from '@grpc/grpc-js';
import {
  type NodeRunId,
  type PollTaskRequest,
  type PollTaskResponse,
  type PutTaskDefRequest,
  type PutWfSpecRequest,
  type ReportTaskRun,
  type RunWfRequest,
  type ScheduledTask,
  type SearchTaskRunRequest,
  type TaskDef,
  type TaskRunId,
  type WfRunId,
  type WfSpec,
  type WfSpecId,
} from 'littlehorse-client/proto';
import { resourceExhausted } from './resource-exhausted.js';
import { countTaskRuns, DEFAULT_PARTITIONS, searchTaskRuns } from './search.js';
import { type CountTaskRunRequest, LittleHorseService } from '../../lib/littlehorse/count-task-run.js';
import { type FakeTaskRun, type Hungry, isTerminal, LittleHorseState, type ScheduleTaskOptions } from './state.js';
import { WfRunState } from './wf-runs.js';

export type { FakeAttempt, FakeTaskRun, ScheduleTaskOptions } from './state.js';
export { makeTestCertificates } from './certificates.js';

export interface FakeLittleHorseOptions {
  host?: string;
  /** Bootstrap port; 0 picks a free one. */
  port?: number;
  /** Server instances, each on its own port and with its own task queues, sharing one state. */
  hostCount?: number;
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer; requireClientCert?: boolean };
  /** Every call must carry `authorization: Bearer <token>`. */
  bearerToken?: string;
  tenants?: string[];
  /** Heartbeat window after which a worker is dropped (15 s before server 0.16, 90 s after). */
  workerInactivityMs?: number;
  /** Partitions TaskRuns are spread over, which shapes SearchTaskRun's pages (LHS_CLUSTER_PARTITIONS). */
  partitions?: number;
  /** CountTaskRun exists from server 1.2.0 on; false answers UNIMPLEMENTED, as older servers do. */
  countTaskRun?: boolean;
}

export interface FakeLittleHorse {
  readonly host: string;
  readonly port: number;
  readonly addresses: string[];
  scheduleTask(options: ScheduleTaskOptions): FakeTaskRun;
  waitForTaskRun(id: TaskRunId, timeoutMs?: number): Promise<FakeTaskRun>;
  nextReport(id: TaskRunId, timeoutMs?: number): Promise<ReportTaskRun>;
  taskRuns(): FakeTaskRun[];
  taskDefs(): TaskDef[];
  putTaskDef(request: PutTaskDefRequest): TaskDef;
  /** PutWfSpec in-process (tenant default), e.g. so scheduled tasks can name a WfSpec that exists. */
  putWfSpec(request: PutWfSpecRequest): WfSpec;
  workers(taskDefName: string): Array<{ id: string; lastHeartbeat: Date }>;
  readonly stats: {
    calls: Record<string, number>;
    pollRequests: number;
    /** PollTask requests per server address. */
    pollRequestsAt: Record<string, number>;
    /** When each PollTask request arrived (ms since the epoch). */
    pollRequestTimes: number[];
    pollStreamsOpened: number;
    openPollStreams: number;
    /** Open PollTask streams per server address. */
    openPollStreamsAt: Record<string, number>;
    reports: number;
    /** ReportTask calls per server address. */
    reportsAt: Record<string, number>;
    /** When each ReportTask call arrived (ms since the epoch), rejected ones included. */
    reportTimes: number[];
  };
  readonly events: EventEmitter;
  killPollStreams(status?: Status): void;
  restart(downMs?: number): Promise<void>;
  failNextReports(n: number, status?: Status): void;
  failHeartbeats(n: number, status?: Status): void;
  /** PollTask requests parked now (on one instance when given): a busy worker should have none. */
  parkedRequests(instance?: number): number;
  /**
   * Fault: hands the next queued task on an instance to an open PollTask stream there that has no
   * request parked (a withdrawn request answered anyway); undefined when there is no such pair.
   */
  handOutUnasked(instance?: number): FakeTaskRun | undefined;
  /** The next n heartbeats answer OK with is_cluster_healthy=false and no hosts, as during a rebalance. */
  unhealthyHeartbeats(n: number): void;
  /** The next n calls of a method fail RESOURCE_EXHAUSTED, with a RetryInfo of retryDelayMs when given. */
  exhaustNext(method: string, n: number, retryDelayMs?: number): void;
  setHostCount(n: number): Promise<void>;
  stop(): Promise<void>;
}

interface Instance {
  port: number;
  server?: Server;
  streams: Map<number, (error: ServerError) => void>;
  /** Each open stream's last request, as a claim would answer it. */
  lastRequest: Map<number, Hungry>;
}

const runKey = (id: TaskRunId) => `${id.wfRunId?.id}/${id.taskGuid}`;

/**
 * A LittleHorse server double on the client package's own LittleHorseDefinition (plus CountTaskRun), over real gRPC:
 * the worker protocol (PutTaskDef/GetTaskDef, RegisterTaskWorker, long-poll PollTask, ReportTask,
 * GetTaskRun, SearchTaskRun and CountTaskRun in ./search.ts) modelled on the real server (LittleHorse
 * `server/.../streams/taskqueue/`: `TaskQueueManager`, `OneTaskQueue`, `PollTaskRequestObserver`;
 * heartbeats in `TaskWorkerHeartBeatRequestModel`), and
 * PutWfSpec/GetWfSpec/RunWf/GetWfRun/GetNodeRun for WfSpecs of one TASK node (./wf-runs.ts);
 * every other method answers UNIMPLEMENTED.
 */
export async function startFakeLittleHorse(options: FakeLittleHorseOptions = {}): Promise<FakeLittleHorse> {
  const host = options.host ?? '127.0.0.1';
  const tenants = new Set(options.tenants ?? ['default']);
  const inactivityMs = options.workerInactivityMs ?? 15_000;
  const state = new LittleHorseState(options.hostCount ?? 1);
  const wfRuns = new WfRunState(state);
  const stats = {
    calls: {} as Record<string, number>,
    pollRequests: 0,
    pollRequestsAt: {} as Record<string, number>,
    pollRequestTimes: [] as number[],
    pollStreamsOpened: 0,
    openPollStreams: 0,
    openPollStreamsAt: {} as Record<string, number>,
    reports: 0,
    reportsAt: {} as Record<string, number>,
    reportTimes: [] as number[],
  };
  const faults = { reports: [] as Status[], heartbeats: [] as Status[], unhealthyHeartbeats: 0, exhausted: new Map<string, Array<number | undefined>>() };
  const instances: Instance[] = [];
  let streamIds = 0;

  const tenantOf = (context: CallContext, method: string): string => {
    stats.calls[method] = (stats.calls[method] ?? 0) + 1;
    if (options.bearerToken && context.metadata.get('authorization') !== `Bearer ${options.bearerToken}`) {
      throw new ServerError(Status.UNAUTHENTICATED, 'missing or wrong bearer token');
    }
    const tenant = context.metadata.get('tenantid') ?? 'default';
    if (!tenants.has(tenant)) throw new ServerError(Status.PERMISSION_DENIED, 'Tenant not allowed');
    // Quotas are checked once the caller is known (RequestQuotaManager.enforceOrThrow). The real server
    // never throttles PollTask; the knob allows it only to show that the worker leaves streams alone.
    const exhausted = faults.exhausted.get(method);
    if (exhausted && exhausted.length > 0) throw resourceExhausted(context, exhausted.shift());
    return tenant;
  };

  const implementation = (index: number) => {
    const instance = instances[index]!;
    const impl: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(LittleHorseService.methods)) {
      impl[name] = method.requestStream || method.responseStream
        ? // eslint-disable-next-line require-yield -- a streaming method that fails before its first message
          async function* unimplemented() {
            throw new ServerError(Status.UNIMPLEMENTED, `${name} is not part of the fake`);
          }
        : async () => {
            throw new ServerError(Status.UNIMPLEMENTED, `${name} is not part of the fake`);
          };
    }
    return Object.assign(impl, {
      putTaskDef: async (request: PutTaskDefRequest, context: CallContext) => state.putTaskDef(tenantOf(context, 'putTaskDef'), request),
      getTaskDef: async (request: { name: string }, context: CallContext) => state.getTaskDef(tenantOf(context, 'getTaskDef'), request.name),
      getTaskRun: async (request: TaskRunId, context: CallContext) => {
        const tenant = tenantOf(context, 'getTaskRun');
        const run = state.taskRuns.get(runKey(request));
        if (!run || run.tenant !== tenant) throw new ServerError(Status.NOT_FOUND, `Couldn't find TaskRun ${runKey(request)}`);
        return toTaskRun(run);
      },
      searchTaskRun: async (request: SearchTaskRunRequest, context: CallContext) =>
        searchTaskRuns(state.taskRuns.values(), tenantOf(context, 'searchTaskRun'), request, options.partitions ?? DEFAULT_PARTITIONS),
      ...(options.countTaskRun === false
        ? {}
        : { countTaskRun: async (request: CountTaskRunRequest, context: CallContext) => countTaskRuns(state.taskRuns.values(), tenantOf(context, 'countTaskRun'), request) }),
      putWfSpec: async (request: PutWfSpecRequest, context: CallContext) => wfRuns.putWfSpec(tenantOf(context, 'putWfSpec'), request),
      runWf: async (request: RunWfRequest, context: CallContext) => wfRuns.runWf(tenantOf(context, 'runWf'), request),
      getWfSpec: async (request: WfSpecId, context: CallContext) => wfRuns.getWfSpec(tenantOf(context, 'getWfSpec'), request),
      getWfRun: async (request: WfRunId, context: CallContext) => wfRuns.getWfRun(tenantOf(context, 'getWfRun'), request),
      getNodeRun: async (request: NodeRunId, context: CallContext) => wfRuns.getNodeRun(tenantOf(context, 'getNodeRun'), request),
      registerTaskWorker: async (request: { taskWorkerId: string; taskDefId?: { name: string } }, context: CallContext) => {
        tenantOf(context, 'registerTaskWorker');
        const failure = faults.heartbeats.shift();
        if (failure !== undefined) throw new ServerError(failure, 'injected heartbeat failure');
        // ClusterHealthRequestObserver: the heartbeat command could not be processed during a rebalance,
        // so the server answers OK with no hosts and the cluster marked unhealthy.
        if (faults.unhealthyHeartbeats > 0) {
          faults.unhealthyHeartbeats--;
          return { yourHosts: [], isClusterHealthy: false };
        }
        const taskDefName = request.taskDefId?.name ?? '';
        state.heartbeat(taskDefName, request.taskWorkerId);
        return { yourHosts: assignment(state.workersOf(taskDefName, inactivityMs), request.taskWorkerId), isClusterHealthy: true };
      },
      reportTask: async (request: ReportTaskRun, context: CallContext) => {
        stats.reportTimes.push(Date.now());
        const tenant = tenantOf(context, 'reportTask');
        stats.reports++;
        const address = `${host}:${instance.port}`;
        stats.reportsAt[address] = (stats.reportsAt[address] ?? 0) + 1;
        const failure = faults.reports.shift();
        if (failure !== undefined) throw new ServerError(failure, 'injected ReportTask failure');
        state.report(tenant, request);
        return {};
      },
      pollTask: (requests: AsyncIterable<PollTaskRequest>, context: CallContext) =>
        pollStream(index, instance, requests, context, tenantOf(context, 'pollTask')),
    });
  };

  /** RoundRobinAssignor: hosts and workers sorted; each host gets a worker in turn; a worker left over gets a host. */
  const assignment = (workers: string[], me: string) => {
    const hosts = instances.map((i) => ({ host, port: i.port }));
    const mine = hosts.filter((_, i) => workers[i % workers.length] === me);
    if (mine.length === 0) mine.push(hosts[workers.indexOf(me) % hosts.length]!);
    return mine;
  };

  async function* pollStream(index: number, instance: Instance, requests: AsyncIterable<PollTaskRequest>, context: CallContext, tenant: string): AsyncGenerator<PollTaskResponse> {
    const streamId = ++streamIds;
    const address = `${host}:${instance.port}`;
    stats.pollStreamsOpened++;
    stats.openPollStreams++;
    stats.openPollStreamsAt[address] = (stats.openPollStreamsAt[address] ?? 0) + 1;
    const outbox: ScheduledTask[] = [];
    let wake: () => void = () => {};
    let failure: ServerError | undefined;
    instance.streams.set(streamId, (error) => {
      failure = error;
      wake();
    });
    // Requests are read concurrently with responses being written (PollTaskRequestObserver).
    const reader = (async () => {
      for await (const request of requests) {
        stats.pollRequests++;
        stats.pollRequestsAt[address] = (stats.pollRequestsAt[address] ?? 0) + 1;
        stats.pollRequestTimes.push(Date.now());
        const hungry: Hungry = {
          streamId,
          clientId: request.clientId,
          taskWorkerVersion: request.taskWorkerVersion ?? '',
          deliver: (task) => {
            outbox.push(task);
            wake();
            return true;
          },
        };
        instance.lastRequest.set(streamId, hungry);
        state.park(index, tenant, request.taskDefId?.name ?? '', hungry);
      }
      // Half-close: parked entries go, but the response stream is never completed (onCompleted).
      state.unpark(streamId);
    })().catch(() => state.unpark(streamId));
    // One listener for the stream's life: a listener per wait would pile up on a long-lived stream.
    context.signal.addEventListener('abort', () => wake(), { once: true });
    try {
      while (!context.signal.aborted) {
        if (failure) throw failure;
        const task = outbox.shift();
        if (task) {
          yield { result: task };
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      state.unpark(streamId);
      instance.streams.delete(streamId);
      instance.lastRequest.delete(streamId);
      stats.openPollStreams--;
      stats.openPollStreamsAt[address]!--;
      void reader;
    }
  }

  const listen = async (index: number) => {
    const instance = instances[index]!;
    const server = createServer();
    server.add(LittleHorseService, implementation(index) as never);
    const credentials = options.tls
      ? ServerCredentials.createSsl(options.tls.ca ?? null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], options.tls.requireClientCert ?? false)
      : ServerCredentials.createInsecure();
    instance.port = await server.listen(`${host}:${instance.port}`, credentials);
    instance.server = server;
  };

  const addInstances = async (count: number) => {
    while (instances.length < count) {
      instances.push({ port: instances.length === 0 ? (options.port ?? 0) : 0, streams: new Map(), lastRequest: new Map() });
      await listen(instances.length - 1);
    }
    state.instanceCount = instances.length;
  };
  await addInstances(options.hostCount ?? 1);

  const waitFor = <T>(what: string, check: () => T | undefined, event: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const found = check();
      if (found !== undefined) return resolve(found);
      const onEvent = () => {
        const value = check();
        if (value === undefined) return;
        clearTimeout(timer);
        state.events.off(event, onEvent);
        resolve(value);
      };
      const timer = setTimeout(() => {
        state.events.off(event, onEvent);
        reject(new Error(`fake LittleHorse: ${what} did not happen within ${timeoutMs} ms`));
      }, timeoutMs);
      state.events.on(event, onEvent);
    });

  return {
    host,
    get port() {
      return instances[0]!.port;
    },
    get addresses() {
      return instances.map((i) => `${host}:${i.port}`);
    },
    scheduleTask: (scheduleOptions) => state.schedule(scheduleOptions),
    waitForTaskRun: (id, timeoutMs = 20_000) =>
      waitFor(
        `TaskRun ${runKey(id)} finishing`,
        () => {
          const run = state.taskRuns.get(runKey(id));
          return run && isTerminal(run.status) ? run : undefined;
        },
        'done',
        timeoutMs,
      ).catch((error: Error) => {
        const run = state.taskRuns.get(runKey(id));
        throw new Error(`${error.message}; attempts: ${JSON.stringify(run?.attempts.map((a) => ({ status: a.status, reports: a.reports.length })))}`);
      }),
    nextReport: (id, timeoutMs = 20_000) => {
      const seen = state.taskRuns.get(runKey(id))?.attempts.reduce((n, a) => n + a.reports.length, 0) ?? 0;
      return waitFor(
        `a report for TaskRun ${runKey(id)}`,
        () => state.taskRuns.get(runKey(id))?.attempts.flatMap((a) => a.reports)[seen],
        'report',
        timeoutMs,
      );
    },
    taskRuns: () => [...state.taskRuns.values()],
    taskDefs: () => [...state.taskDefs.values()],
    putTaskDef: (request) => state.putTaskDef('default', request),
    putWfSpec: (request) => wfRuns.putWfSpec('default', request),
    workers: (taskDefName) => [...(state.workers.get(taskDefName) ?? new Map<string, Date>())].map(([id, lastHeartbeat]) => ({ id, lastHeartbeat })),
    stats,
    events: state.events,
    killPollStreams: (status = Status.UNAVAILABLE) => {
      for (const instance of instances) for (const fail of instance.streams.values()) fail(new ServerError(status, 'injected stream failure'));
    },
    failNextReports: (n, status = Status.UNAVAILABLE) => faults.reports.push(...Array<Status>(n).fill(status)),
    failHeartbeats: (n, status = Status.UNAVAILABLE) => faults.heartbeats.push(...Array<Status>(n).fill(status)),
    unhealthyHeartbeats: (n) => (faults.unhealthyHeartbeats += n),
    parkedRequests: (instance) => state.parkedRequests(instance).length,
    handOutUnasked: (instance = 0) => {
      const parked = new Set(state.parkedRequests(instance).map((h) => h.streamId));
      const idle = [...instances[instance]!.lastRequest.values()].find((h) => !parked.has(h.streamId));
      return idle && state.handOutUnasked(instance, idle);
    },
    exhaustNext: (method, n, retryDelayMs) => {
      const queue = faults.exhausted.get(method) ?? [];
      queue.push(...Array<number | undefined>(n).fill(retryDelayMs));
      faults.exhausted.set(method, queue);
    },
    restart: async (downMs = 0) => {
      for (const instance of instances) instance.server?.forceShutdown();
      state.forgetHungry();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      for (let i = 0; i < instances.length; i++) await listen(i);
    },
    setHostCount: async (n) => {
      while (instances.length > n) instances.pop()!.server?.forceShutdown();
      await addInstances(n);
    },
    stop: async () => {
      state.clearAllTimers();
      for (const instance of instances) instance.server?.forceShutdown();
    },
  };
}

function toTaskRun(run: FakeTaskRun) {
  return {
    id: run.id,
    taskDefId: { name: run.taskDefName },
    status: run.status,
    scheduledAt: run.scheduledAt.toISOString(),
    timeoutSeconds: run.timeoutSeconds,
    totalAttempts: run.totalAttempts,
    inputVariables: Object.entries(run.variables).map(([varName, value]) => ({ varName, value, masked: false })),
    attempts: run.attempts.map((a) => ({
      status: a.status,
      taskWorkerId: a.taskWorkerId,
      taskWorkerVersion: a.taskWorkerVersion,
      scheduleTime: a.scheduleTime.toISOString(),
      startTime: a.startTime?.toISOString(),
      endTime: a.endTime?.toISOString(),
      output: a.output,
      error: a.error,
      exception: a.exception,
      logOutput: a.logOutput,
      maskedValue: false,
    })),
  };
}
