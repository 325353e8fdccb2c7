import { afterEach } from 'vitest';
import { type Stack, startStack } from './stack.js';
import { spawnWorker, type WorkerProcess, event } from './worker-process.js';

/**
 * Both doubles and the bundled workers a test starts against them, all stopped after each test
 * (workers first, so none outlives the servers it talks to).
 */
export function stackFixture() {
  let current: Stack | undefined;
  const workers: WorkerProcess[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await current?.stop();
    current = undefined;
  });
  return {
    async start(options?: Parameters<typeof startStack>[0]): Promise<Stack> {
      current = await startStack(options);
      return current;
    },
    /** A worker spawned against the running stack, once it has logged "worker ready". */
    async ready(env: Record<string, string> = {}): Promise<WorkerProcess> {
      if (!current) throw new Error('start the stack before a worker');
      const worker = spawnWorker(current.env(env));
      workers.push(worker);
      await worker.waitForLog(event('worker-ready'));
      return worker;
    },
  };
}
