import { createHash } from 'node:crypto';

export interface TaskRunRef {
  wfRunId: string;
  /** Parent WfRun ids, outermost first. */
  parentWfRunIds: string[];
  taskGuid: string;
  attemptNumber: number;
}

/**
 * LittleHorse's idempotency key, Java-style: the whole WfRunId chain joined by "_", then "/" and the
 * task guid. Stable across attempts and unique across WfRuns on every server version (task_guid
 * alone is only unique within a WfRun since server 0.15).
 */
export function idempotencyKey(ref: TaskRunRef): string {
  return `${[...ref.parentWfRunIds, ref.wfRunId].join('_')}/${ref.taskGuid}`;
}

/** A UUID (v5 layout) derived from the key and attempt, so each attempt's prompt id is known in advance. */
export function promptIdFor(key: string, attemptNumber: number): string {
  const hash = createHash('sha1').update(`comfyui-worker:${key}#${attemptNumber}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function promptIdentity(ref: TaskRunRef) {
  const key = idempotencyKey(ref);
  return {
    promptId: promptIdFor(key, ref.attemptNumber),
    earlierPromptIds: Array.from({ length: ref.attemptNumber }, (_, attempt) => promptIdFor(key, attempt)),
    extraData: { littlehorse: { idempotency_key: key, attempt_number: ref.attemptNumber } },
  };
}
