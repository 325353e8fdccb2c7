import { ClientError, Status } from 'nice-grpc';
import { LHStatus, type NodeRun, type TaskRun, type WfRun } from 'littlehorse-client/proto';
import { sleep } from '../../lib/backoff.js';
import { parseConfig } from '../../lib/config.js';
import { LittleHorseConnections } from '../../lib/littlehorse/connection.js';
import { oneTaskWfSpec, WORKFLOW_VARIABLE } from '../../devstack/littlehorse/one-task-wf-spec.js';
import { spawnWorker, type WorkerProcess, event } from '../support/worker-process.js';

export { oneTaskWfSpec };

export interface HarnessTarget {
  /** The worker's environment (LHC_*, COMFYUI_*, LHW_TASK_NAME…); the harness reaches LittleHorse with it too. */
  workerEnv: Record<string, string>;
  /** A workflow this ComfyUI can run. */
  workflow: unknown;
  /** The task node's timeoutSeconds (it also gets one retry). */
  taskTimeoutSeconds: number;
  /** How long the worker may take to be ready (it waits for ComfyUI first). */
  readyTimeoutMs?: number;
}

export interface FinishedWfRun {
  wfRun: WfRun;
  /** The task node's run, with the failure when there is one. */
  nodeRun: NodeRun;
  taskRun: TaskRun;
}

export interface Harness {
  target: HarnessTarget;
  worker: WorkerProcess;
  /** Runs the WfSpec with this workflow and waits until the WfRun ends. */
  run(workflow: unknown): Promise<FinishedWfRun>;
  stop(): Promise<void>;
}

const RETRIES = 1;
const ENDED = new Set<LHStatus>([LHStatus.COMPLETED, LHStatus.ERROR, LHStatus.EXCEPTION, LHStatus.HALTED]);

/**
 * Drives the bundled worker the way a LittleHorse user does: the built dist/runner.js runs with the
 * target's environment (it creates its TaskDef), then, through LittleHorse's own API, a WfSpec of one
 * task node, RunWf and GetWfRun / GetNodeRun / GetTaskRun. The same code runs against real servers
 * (`npm run test:real`) and against the doubles (test/real-harness.test.ts).
 */
export async function startHarness(target: HarnessTarget): Promise<Harness> {
  const parsed = parseConfig(target.workerEnv);
  if (!parsed.ok) throw new Error(`the worker's environment is not valid:\n  ${parsed.problems.join('\n  ')}`);
  const taskName = parsed.config.worker.taskName;
  const wfSpecName = `${taskName}-harness`;
  const connections = new LittleHorseConnections(parsed.config.littlehorse);
  const client = connections.bootstrap();
  const worker = spawnWorker(target.workerEnv);
  const stop = async () => {
    worker.child.kill('SIGTERM');
    await Promise.race([worker.exited, sleep(10_000)]);
    await worker.stop();
    connections.close();
  };
  try {
    await worker.waitForLog(event('worker-ready'), target.readyTimeoutMs ?? 15_000);
    await client.putWfSpec(oneTaskWfSpec(wfSpecName, taskName, target.taskTimeoutSeconds, RETRIES));
  } catch (error) {
    await stop();
    throw error;
  }

  const run = async (workflow: unknown): Promise<FinishedWfRun> => {
    // Metadata reaches every partition asynchronously: RunWf right after PutWfSpec can briefly miss it.
    const runWf = (stopRetryingAt: number) =>
      client.runWf({ wfSpecName, variables: { [WORKFLOW_VARIABLE]: { jsonObj: JSON.stringify(workflow) } } }).catch((error: unknown) => {
        const unknownWfSpec = error instanceof ClientError && error.code === Status.INVALID_ARGUMENT && /find wfSpec/i.test(error.details);
        if (!unknownWfSpec || Date.now() > stopRetryingAt) throw error;
        return undefined;
      });
    const stopRetryingAt = Date.now() + 10_000;
    let wfRun: WfRun | undefined;
    while (!(wfRun = await runWf(stopRetryingAt))) await sleep(200);
    const id = wfRun.id!;
    const waitUntil = Date.now() + target.taskTimeoutSeconds * 1000 * (1 + RETRIES) + 30_000;
    while (!ENDED.has(wfRun.status)) {
      if (Date.now() > waitUntil) {
        const tail = worker.logs.slice(-20).map((line) => JSON.stringify(line)).join('\n');
        throw new Error(`WfRun ${id.id} is still ${wfRun.status}; the worker's last log lines:\n${tail}`);
      }
      await sleep(250);
      wfRun = await client.getWfRun(id);
    }
    // Position 1 of thread 0: the node after the entrypoint, our task node.
    const nodeRun = await client.getNodeRun({ wfRunId: id, threadRunNumber: 0, position: 1 });
    const taskRunId = nodeRun.task?.taskRunId;
    if (!taskRunId) throw new Error(`WfRun ${id.id} ended ${wfRun.status} without a TaskRun: ${JSON.stringify(nodeRun)}`);
    return { wfRun, nodeRun, taskRun: await client.getTaskRun(taskRunId) };
  };

  return { target, worker, run, stop };
}
