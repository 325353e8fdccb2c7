import { type ReportTaskRun, TaskStatus } from 'littlehorse-client/proto';
import type { ComfyApi, LiveEvents } from '../../functions/execute-comfyui-workflow/ports.js';
import type { TaskEnd, TaskFinished } from './task-metrics.js';

/** The report's status as a metric outcome. */
export function taskEnd(report: ReportTaskRun): TaskEnd {
  if (report.status === TaskStatus.TASK_SUCCESS) return { status: 'success' };
  if (report.exception) return { status: 'exception', exceptionName: report.exception.name };
  return { status: 'failed' };
}

/**
 * The ComfyUI API the handler gets for one task, noting when ComfyUI accepted the prompt and each
 * status read (GET /queue, GET /history) made while the WebSocket was down: the follow loop polling
 * because it cannot listen. With live events switched off, polling is the design, not a fallback,
 * and is not counted.
 */
export function watchComfy(comfy: ComfyApi, live: LiveEvents | undefined) {
  let acceptedAt: number | undefined;
  let socketFallbacks = 0;
  const fallingBack = () => {
    if (live && !live.connected) socketFallbacks++;
  };
  const watched: ComfyApi = {
    submitPrompt: async (request, signal) => {
      const promptId = await comfy.submitPrompt(request, signal);
      acceptedAt ??= Date.now();
      return promptId;
    },
    getHistory: (promptId, signal) => {
      fallingBack();
      return comfy.getHistory(promptId, signal);
    },
    getQueue: (signal) => {
      fallingBack();
      return comfy.getQueue(signal);
    },
    deleteFromQueue: (promptIds, signal) => comfy.deleteFromQueue(promptIds, signal),
    interrupt: (promptId, signal) => comfy.interrupt(promptId, signal),
  };
  return {
    comfy: watched,
    figures: (receivedAt: number): Pick<TaskFinished, 'claimToStartMs' | 'socketFallbacks'> => ({
      claimToStartMs: acceptedAt === undefined ? undefined : acceptedAt - receivedAt,
      socketFallbacks,
    }),
  };
}
