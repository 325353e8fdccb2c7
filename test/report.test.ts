import { describe, expect, it } from 'vitest';
import { TaskStatus, type ScheduledTask } from 'littlehorse-client/proto';
import { toReport } from '../lib/littlehorse/report.js';
import { idempotencyKey, promptIdentity } from '../functions/execute-comfyui-workflow/identity.js';

const task = {
  taskRunId: { wfRunId: { id: 'wf-1' }, taskGuid: 'g-1' },
  taskDefId: { name: 'execute-comfyui-workflow' },
  attemptNumber: 2,
  variables: [],
  createdAt: new Date().toISOString(),
  source: undefined,
} satisfies ScheduledTask;
const at = new Date('2026-11-25T10:00:00Z');

describe('turning an outcome into a LittleHorse report', () => {
  it('reports success with the result as JSON_OBJ and the log lines', () => {
    const report = toReport(task, { ok: true, result: { prompt_id: 'p', outputs: [], data: [] } }, ['submit workflow', 'workflow complete'], at);
    expect(report).toMatchObject({ status: TaskStatus.TASK_SUCCESS, attemptNumber: 2, time: at.toISOString() });
    expect(JSON.parse(report.output!.jsonObj!)).toEqual({ prompt_id: 'p', outputs: [], data: [] });
    expect(report.logOutput?.str).toBe('submit workflow\nworkflow complete');
    expect(report.error).toBeUndefined();
    expect(report.exception).toBeUndefined();
  });

  it('reports a rejected workflow as a named business exception carrying its details', () => {
    const report = toReport(
      task,
      { ok: false, failure: { kind: 'validation', name: 'comfyui-invalid-workflow', message: 'bad', details: { node_errors: [{ node_id: '3' }] } } },
      [],
      at,
    );
    expect(report.status).toBe(TaskStatus.TASK_EXCEPTION);
    expect(report.exception?.name).toBe('comfyui-invalid-workflow');
    expect(JSON.parse(report.exception!.content!.jsonObj!)).toEqual({ message: 'bad', node_errors: [{ node_id: '3' }] });
    expect(report.output).toBeUndefined();
    expect(report.logOutput).toBeUndefined();
  });

  it('reports an unavailable ComfyUI as a retryable TASK_FAILED', () => {
    const report = toReport(task, { ok: false, failure: { kind: 'unavailable', message: 'down' } }, ['x'], at);
    expect(report).toMatchObject({ status: TaskStatus.TASK_FAILED, error: { message: 'down' } });
    expect(report.exception).toBeUndefined();
  });
});

describe('tying a ComfyUI prompt to its TaskRun', () => {
  it('builds the Java-style idempotency key from the whole WfRun chain', () => {
    expect(idempotencyKey({ wfRunId: 'child', parentWfRunIds: ['root', 'mid'], taskGuid: '1-2', attemptNumber: 0 })).toBe('root_mid_child/1-2');
  });

  it('gives each attempt a stable prompt id and lists the earlier ones', () => {
    const ref = { wfRunId: 'wf', parentWfRunIds: [], taskGuid: '0-1', attemptNumber: 2 };
    const identity = promptIdentity(ref);
    expect(identity.promptId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(identity.earlierPromptIds).toEqual([
      promptIdentity({ ...ref, attemptNumber: 0 }).promptId,
      promptIdentity({ ...ref, attemptNumber: 1 }).promptId,
    ]);
    expect(promptIdentity(ref).promptId).toBe(identity.promptId);
    expect(promptIdentity({ ...ref, wfRunId: 'other' }).promptId).not.toBe(identity.promptId);
  });
});
