import { ClientError, Status } from 'nice-grpc';
import { type SearchTaskRunRequest, type TaskRun, type TaskRunId, type TaskRunIdList, TaskStatus } from 'littlehorse-client/proto';
import type { Backlog } from '../metrics/task-metrics.js';
import type { Count, CountTaskRunRequest } from './count-task-run.js';

type CallOptions = { signal?: AbortSignal };

/** The calls the backlog needs (LittleHorseClient has them all). */
export interface BacklogClient {
  countTaskRun(request: CountTaskRunRequest, options?: CallOptions): Promise<Count>;
  searchTaskRun(request: Partial<SearchTaskRunRequest> & { taskDefName: string }, options?: CallOptions): Promise<TaskRunIdList>;
  getTaskRun(request: TaskRunId, options?: CallOptions): Promise<TaskRun>;
}

export interface BacklogOptions {
  signal?: AbortSignal;
  now?: () => number;
  /** Ids per SearchTaskRun page (the server's default is 100 and it sets no maximum). */
  pageSize?: number;
  /** Counting by pages stops here: enough to scale on, and the scan stays bounded. */
  maxCount?: number;
}

/**
 * Measures the backlog again and again, asking CountTaskRun first (one counter read, LittleHorse
 * 1.2+) and, once a server has answered UNIMPLEMENTED, counting SearchTaskRun pages instead.
 */
export function backlogGauge(client: BacklogClient, taskDefName: string, options: Omit<BacklogOptions, 'signal'> = {}) {
  let counterMissing = false;
  const count = async (signal: AbortSignal | undefined): Promise<number | undefined> => {
    if (counterMissing) return undefined;
    try {
      return (await client.countTaskRun({ taskDefName, status: TaskStatus.TASK_SCHEDULED }, { signal })).value;
    } catch (error) {
      if (!(error instanceof ClientError) || error.code !== Status.UNIMPLEMENTED) throw error;
      counterMissing = true;
      return undefined;
    }
  };
  return async (signal?: AbortSignal): Promise<Backlog> => measureBacklog(client, taskDefName, { ...options, signal, count: await count(signal) });
}

/** Bounds the walk to the oldest task: it takes at most one step per LittleHorse partition (12 by default). */
const MAX_OLDEST_STEPS = 64;

/**
 * TaskRuns of a TaskDef that wait for a worker (status TASK_SCHEDULED; a claimed one is TASK_RUNNING),
 * and the age of the oldest, from LittleHorse's search RPCs. What the server does (littlehorse
 * server, SearchTaskRunRequestModel, TaskRunModel.getIndexConfigurations, and
 * BackendInternalComms.localAllPartitionTagScan / onePartitionPaginatedTagScan):
 *
 * - SearchTaskRun(taskDefName, status) is a prefix scan of a LOCAL tag index, partition after
 *   partition; it returns TaskRunIds only, `limit` per page (100 by default), and a bookmark until
 *   every partition is done. Counting is one cheap scan step per waiting task, so it is capped;
 *   CountTaskRun (1.2+, see backlogGauge) reads a counter instead.
 * - Within a partition the index is ordered by the TaskRun's scheduledAt (the tag's created time),
 *   and latestStart bounds the scan there; across partitions there is no order. So the first id
 *   of a page is only its partition's oldest. The oldest overall is found by walking down: read a
 *   candidate's scheduledAt (GetTaskRun), ask for one waiting task scheduled strictly earlier
 *   (latestStart, limit 1); each answer is the oldest of another partition, so the walk ends
 *   within a step per partition.
 */
export async function measureBacklog(
  client: BacklogClient,
  taskDefName: string,
  options: BacklogOptions & { /** Already known from CountTaskRun: only the oldest is searched for. */ count?: number } = {},
): Promise<Backlog> {
  const { signal, now = Date.now, pageSize = 1_000, maxCount = 10_000 } = options;
  const waiting = { taskDefName, status: TaskStatus.TASK_SCHEDULED };
  let count = options.count ?? 0;
  let first: TaskRunId | undefined;
  if (options.count === undefined) {
    let bookmark: Buffer | undefined;
    do {
      const page = await client.searchTaskRun({ ...waiting, limit: Math.min(pageSize, maxCount - count), bookmark }, { signal });
      first ??= page.results[0];
      count += page.results.length;
      bookmark = page.bookmark;
    } while (bookmark && bookmark.length > 0 && count < maxCount);
  } else if (count > 0) {
    first = (await client.searchTaskRun({ ...waiting, limit: 1 }, { signal })).results[0];
  }
  const oldest = first && (await oldestScheduledAt(client, waiting, first, signal));
  return { count, oldestAgeMs: oldest === undefined ? undefined : Math.max(0, now() - oldest) };
}

async function oldestScheduledAt(
  client: BacklogClient,
  waiting: { taskDefName: string; status: TaskStatus },
  start: TaskRunId,
  signal: AbortSignal | undefined,
): Promise<number | undefined> {
  let candidate = start;
  let oldest = Infinity;
  for (let step = 0; step < MAX_OLDEST_STEPS; step++) {
    const run = await client.getTaskRun(candidate, { signal });
    const scheduledAt = Date.parse(run.scheduledAt ?? '');
    // Claimed meanwhile: its time says nothing of what still waits; search again below the oldest known (or afresh).
    const stillWaiting = run.status === TaskStatus.TASK_SCHEDULED && Number.isFinite(scheduledAt);
    if (stillWaiting) oldest = Math.min(oldest, scheduledAt);
    const bound = stillWaiting
      ? { latestStart: new Date(scheduledAt - 1).toISOString() }
      : Number.isFinite(oldest)
        ? { latestStart: new Date(oldest - 1).toISOString() }
        : {};
    const older = await client.searchTaskRun({ ...waiting, ...bound, limit: 1 }, { signal });
    const next = older.results[0];
    if (!next) break;
    candidate = next;
  }
  return Number.isFinite(oldest) ? oldest : undefined;
}
