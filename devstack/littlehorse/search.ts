import { ServerError, Status } from 'nice-grpc';
import { type SearchTaskRunRequest, type TaskRunId, type TaskRunIdList, TaskStatus } from 'littlehorse-client/proto';
import type { Count, CountTaskRunRequest } from '../../lib/littlehorse/count-task-run.js';
import type { FakeTaskRun } from './state.js';

/** The server's default partition count (LHServerConfig.getClusterPartitions: LHS_CLUSTER_PARTITIONS, 12). */
export const DEFAULT_PARTITIONS = 12;
/** PublicScanRequest.getLimit: a search without `limit` returns 100 per page. */
const DEFAULT_LIMIT = 100;

interface Bookmark {
  completed: number[];
  /** Per partition still in progress, the key to resume from (inclusive). */
  inProgress: Record<number, string>;
}

/**
 * SearchTaskRun as the LittleHorse server answers it (server, SearchTaskRunRequestModel and
 * BackendInternalComms.localAllPartitionTagScan / onePartitionPaginatedTagScan): a scan of a
 * LOCAL tag index `taskDefName[/status]`, partition after partition, each partition's entries
 * keyed `<scheduledAt in ms>/<TaskRunId>` and scanned in key order from `earliestStart` (or the
 * bookmark) to `latestStart` + "~" (both ends inclusive, compared as strings, as RocksDB does);
 * `limit` results per page across partitions, and a bookmark while any partition is unfinished,
 * even when what is left is empty. The bookmark is opaque to clients (BookmarkPb there, JSON here).
 * A TaskRun's partition comes from its WfRunId: here a stable string hash stands in for Kafka's
 * murmur2 partitioner, since only the spread over partitions matters to a client.
 */
export function searchTaskRuns(runs: Iterable<FakeTaskRun>, tenant: string, request: SearchTaskRunRequest, partitions: number): TaskRunIdList {
  const byPartition = new Map<number, Array<{ key: string; id: TaskRunId }>>();
  for (const run of runs) {
    if (run.tenant !== tenant || run.taskDefName !== request.taskDefName) continue;
    if (request.status !== undefined && run.status !== request.status) continue;
    const partition = partitionOf(rootWfRunId(run), partitions);
    const entries = byPartition.get(partition) ?? [];
    entries.push({ key: `${run.scheduledAt.getTime()}/${run.key}`, id: run.id });
    byPartition.set(partition, entries);
  }
  const bookmark: Bookmark = request.bookmark && request.bookmark.length > 0 ? (JSON.parse(request.bookmark.toString('utf8')) as Bookmark) : { completed: [], inProgress: {} };
  const startFloor = request.earliestStart ? String(Date.parse(request.earliestStart)) : '';
  const endKey = `${request.latestStart ? String(Date.parse(request.latestStart)) : ''}~`;
  let limit = request.limit ?? DEFAULT_LIMIT;
  const results: TaskRunId[] = [];
  const out: Bookmark = { completed: [...bookmark.completed], inProgress: { ...bookmark.inProgress } };
  for (let partition = 0; partition < partitions; partition++) {
    if (bookmark.completed.includes(partition)) continue;
    const startKey = bookmark.inProgress[partition] ?? startFloor;
    const entries = (byPartition.get(partition) ?? []).filter((e) => e.key >= startKey && e.key <= endKey).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let resumeAt: string | undefined;
    for (const entry of entries) {
      if (--limit < 0) {
        resumeAt = entry.key;
        break;
      }
      results.push(entry.id);
    }
    if (resumeAt === undefined) {
      out.completed.push(partition);
      delete out.inProgress[partition];
    } else {
      out.inProgress[partition] = resumeAt;
      break;
    }
    if (limit === 0) break;
  }
  const done = out.completed.length >= partitions;
  return { results, bookmark: done ? undefined : Buffer.from(JSON.stringify(out), 'utf8') };
}

/** A child WfRun lives with its root (WfRunIdModel.getPartitionKey). */
function rootWfRunId(run: FakeTaskRun): string {
  let id = run.id.wfRunId;
  while (id?.parentWfRunId) id = id.parentWfRunId;
  return id?.id ?? '';
}

/** A stable spread of WfRunIds over partitions (the real server uses Kafka's murmur2 on the key). */
export function partitionOf(wfRunId: string, partitions: number): number {
  let hash = 0;
  for (let i = 0; i < wfRunId.length; i++) hash = (Math.imul(hash, 31) + wfRunId.charCodeAt(i)) | 0;
  return (hash >>> 0) % partitions;
}

/**
 * CountTaskRun (server 1.2+, CountTaskRunRequestModel): TASK_SCHEDULED only, read from a counter the
 * server keeps per TaskDef (a COUNTED tag, BackendInternalComms.doCount), so one key lookup whatever
 * the backlog. The real counter is eventually consistent; this one is exact.
 */
export function countTaskRuns(runs: Iterable<FakeTaskRun>, tenant: string, request: CountTaskRunRequest): Count {
  if (!request.taskDefName) throw new ServerError(Status.INVALID_ARGUMENT, 'taskDefName is required');
  if (request.status !== TaskStatus.TASK_SCHEDULED) {
    throw new ServerError(Status.INVALID_ARGUMENT, 'Only TASK_SCHEDULED status is currently supported for counting TaskRuns');
  }
  let value = 0;
  for (const run of runs) if (run.tenant === tenant && run.taskDefName === request.taskDefName && run.status === TaskStatus.TASK_SCHEDULED) value++;
  return { value };
}
