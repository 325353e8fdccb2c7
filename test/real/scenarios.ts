import { existsSync } from 'node:fs';
import { LHStatus, TaskStatus } from 'littlehorse-client/proto';
import { expect } from 'vitest';
import type { Harness } from './harness.js';

/** A workflow ComfyUI refuses (400: a LATENT linked where an IMAGE is needed) before running anything. */
const INVALID_WORKFLOW = {
  '1': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'invalid' } },
};

/**
 * What must hold against any LittleHorse and ComfyUI, real or simulated: the end-to-end scenarios of
 * test/e2e.test.ts, seen through LittleHorse's API (WfRun, NodeRun, TaskRun) instead of the double's.
 */
export const scenarios: Record<string, (harness: Harness) => Promise<void>> = {
  'runs a workflow to a COMPLETED WfRun whose task returns the prompt id and its output files': async (harness) => {
    const { wfRun, taskRun } = await harness.run(harness.target.workflow);
    expect(wfRun.status, JSON.stringify(taskRun.attempts.at(-1))).toBe(LHStatus.COMPLETED);
    expect(taskRun.status).toBe(TaskStatus.TASK_SUCCESS);
    const result = JSON.parse(taskRun.attempts.at(-1)?.output?.jsonObj ?? 'null') as { prompt_id: string; outputs: Array<{ path: string }> };
    expect(result.prompt_id).toMatch(/.+/);
    expect(result.outputs.length).toBeGreaterThan(0);
    for (const output of result.outputs) expect(existsSync(output.path), `${output.path} exists where the worker sees COMFYUI_OUTPUT_DIR`).toBe(true);
  },

  'ends an invalid workflow as the business exception comfyui-invalid-workflow, not retried': async (harness) => {
    const { wfRun, nodeRun, taskRun } = await harness.run(INVALID_WORKFLOW);
    expect(wfRun.status).toBe(LHStatus.EXCEPTION);
    expect(nodeRun.failures[0]?.failureName).toBe('comfyui-invalid-workflow');
    expect(taskRun.status).toBe(TaskStatus.TASK_EXCEPTION);
    expect(taskRun.attempts).toHaveLength(1);
  },
};
