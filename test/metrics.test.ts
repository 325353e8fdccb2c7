import { TaskStatus } from 'littlehorse-client/proto';
import { describe, expect, it } from 'vitest';
import { stackFixture } from './support/stack-fixture.js';
import { TASK_NAME } from './support/stack.js';
import type { WorkerProcess } from './support/worker-process.js';

const fixture = stackFixture();
const EMF = { COMFYUI_WORKER_METRICS: 'emf' };

type Line = Record<string, unknown>;
interface EmfDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: Array<{ Name: string; Unit: string }>;
}
const directive = (line: Line) => (line._aws as { CloudWatchMetrics: EmfDirective[] }).CloudWatchMetrics[0]!;
const isEmf = (line: Line) => typeof line._aws === 'object' && line._aws !== null;
/** The one line a task's end prints. */
const isTaskLine = (line: Line) => isEmf(line) && 'RunTimeMs' in line;

/** Stops the worker and waits until everything it printed has been read. */
async function drained(worker: WorkerProcess): Promise<Line[]> {
  const stdout = worker.child.stdout!;
  const ended = stdout.readableEnded ? Promise.resolve() : new Promise((resolve) => stdout.once('end', resolve));
  worker.child.kill('SIGTERM');
  await worker.exited;
  await ended;
  return worker.logs;
}

describe('metrics as CloudWatch embedded-metric-format lines (COMFYUI_WORKER_METRICS=emf)', () => {
  it('prints one line for a successful task: TasksSucceeded, run time and claim→start wait under TaskDef', async () => {
    const stack = await fixture.start();
    const worker = await fixture.ready(EMF);
    const run = stack.schedule();
    expect((await stack.lh.waitForTaskRun(run.id)).status).toBe(TaskStatus.TASK_SUCCESS);
    const line = await worker.waitForLog(isTaskLine);

    expect(directive(line).Namespace).toBe('ComfyUIWorker');
    expect(directive(line).Dimensions).toEqual([['TaskDef']]);
    expect(line).toMatchObject({ TaskDef: TASK_NAME, TasksSucceeded: 1, TaskExceptions: 0, TasksFailed: 0, ReportsUndelivered: 0, SocketFallbacks: 0 });
    expect(line.taskRunId).toBe(`${run.id.wfRunId?.id}/${run.id.taskGuid}`);
    expect(line.ClaimToStartMs).toEqual(expect.any(Number));
    expect(line.ClaimToStartMs as number).toBeLessThan(line.RunTimeMs as number);
    // ComfyUI takes 100 ms per prompt in the double: the run time covers it.
    expect(line.RunTimeMs as number).toBeGreaterThanOrEqual(100);
    expect(directive(line).Metrics).toContainEqual({ Name: 'RunTimeMs', Unit: 'Milliseconds' });
    expect((await drained(worker)).filter(isTaskLine)).toHaveLength(1);
  });

  it('prints one line for a TASK_EXCEPTION, also under the dimension set [TaskDef, Exception]', async () => {
    const stack = await fixture.start();
    const worker = await fixture.ready(EMF);
    stack.comfy.script({ kind: 'error', nodeId: '8', exceptionType: 'RuntimeError', message: 'boom' });
    expect((await stack.lh.waitForTaskRun(stack.schedule().id)).status).toBe(TaskStatus.TASK_EXCEPTION);
    const line = await worker.waitForLog(isTaskLine);

    expect(directive(line).Dimensions).toEqual([['TaskDef'], ['TaskDef', 'Exception']]);
    expect(line).toMatchObject({ TaskDef: TASK_NAME, Exception: 'comfyui-execution-error', TasksSucceeded: 0, TaskExceptions: 1, TasksFailed: 0 });
    expect((await drained(worker)).filter(isTaskLine)).toHaveLength(1);
  });

  it('prints one line for a TASK_FAILED, with no claim→start wait when no prompt was accepted', async () => {
    const stack = await fixture.start();
    const worker = await fixture.ready({ ...EMF, COMFYUI_HTTP_RETRIES: '0' });
    stack.comfy.failNext(1, 500, 'POST /prompt');
    expect((await stack.lh.waitForTaskRun(stack.schedule().id)).status).toBe(TaskStatus.TASK_FAILED);
    const line = await worker.waitForLog(isTaskLine);

    expect(line).toMatchObject({ TaskDef: TASK_NAME, TasksSucceeded: 0, TaskExceptions: 0, TasksFailed: 1, ReportsUndelivered: 0 });
    expect(line).not.toHaveProperty('ClaimToStartMs');
    expect((await drained(worker)).filter(isTaskLine)).toHaveLength(1);
  });

  it('counts a report LittleHorse never received as ReportsUndelivered', async () => {
    const stack = await fixture.start();
    const worker = await fixture.ready(EMF);
    stack.lh.failNextReports(1_000);
    stack.schedule({ '9': { class_type: 'PreviewAny', inputs: { source: 'hi' } } }, { timeoutSeconds: 2 });
    const line = await worker.waitForLog(isTaskLine, 20_000);
    expect(line).toMatchObject({ TasksSucceeded: 1, ReportsUndelivered: 1 });
  });

  it('counts the ComfyUI status reads made while the WebSocket is down as SocketFallbacks', async () => {
    const stack = await fixture.start({ comfy: { runTimeMs: 1_500 } });
    stack.comfy.refuseSockets = true;
    const worker = await fixture.ready(EMF);
    expect((await stack.lh.waitForTaskRun(stack.schedule().id)).status).toBe(TaskStatus.TASK_SUCCESS);
    const line = await worker.waitForLog(isTaskLine);
    // COMFYUI_POLL_INTERVAL_SEC=1 against a 1.5 s prompt: a read that finds it queued, then the ones that find it done.
    expect(line.SocketFallbacks as number).toBeGreaterThanOrEqual(2);
  });

  it('prints ComfyUIUp 1 at start and 0 when ComfyUI stops answering', async () => {
    const stack = await fixture.start();
    const worker = await fixture.ready(EMF);
    await worker.waitForLog((line) => isEmf(line) && line.ComfyUIUp === 1);
    await stack.comfy.down();
    stack.comfy.dropSockets();
    const down = await worker.waitForLog((line) => isEmf(line) && line.ComfyUIUp === 0);
    expect(down).toMatchObject({ TaskDef: TASK_NAME });
    await stack.comfy.up();
    await worker.waitForLog((line) => isEmf(line) && line.ComfyUIUp === 1 && worker.logs.indexOf(line) > worker.logs.indexOf(down));
  });

  it('prints no metrics line at all by default', async () => {
    const stack = await fixture.start();
    const worker = await fixture.ready();
    expect((await stack.lh.waitForTaskRun(stack.schedule().id)).status).toBe(TaskStatus.TASK_SUCCESS);
    expect((await drained(worker)).filter(isEmf)).toEqual([]);
  });
});
