// Start-up of the bundled worker against the doubles: what it says while it waits, when it gives up
// at once, and the line it ends with.
import { createServer } from 'node:net';
import { VariableType } from 'littlehorse-client/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnWorker, type WorkerProcess, event } from './support/worker-process.js';
import { type Stack, startStack, TASK_NAME } from './support/stack.js';

let stack: Stack | undefined;
let worker: WorkerProcess | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await stack?.stop();
  stack = undefined;
});

const started = async (options: Parameters<typeof startStack>[0] = {}) => (stack = await startStack(options));
const run = (env: Record<string, string> = {}) => (worker = spawnWorker(stack!.env(env)));
const key = (name: string, value: unknown) => (line: Record<string, unknown>) => line[name] === value;
const lastLine = () => worker!.logs.at(-1)!;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('start-up', () => {
  it('says what is wrong with ComfyUI and with LittleHorse at once, once each', async () => {
    await started();
    await stack!.comfy.down();
    run({ LHC_API_PORT: String(await closedPort()) });
    const comfy = await worker!.waitForLog(key('dependency', 'ComfyUI'));
    const lh = await worker!.waitForLog(key('dependency', 'LittleHorse'));
    expect(String(comfy.message)).toMatch(/connection refused: ComfyUI may still be loading its custom nodes/);
    expect(String(lh.message)).toMatch(/connection refused \(UNAVAILABLE\).*check LHC_API_HOST and LHC_API_PORT/);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(worker!.logs.filter(key('dependency', 'LittleHorse'))).toHaveLength(1);
    expect(worker!.logs.filter(key('dependency', 'ComfyUI'))).toHaveLength(1);
  });

  it('exits 3 at once when LittleHorse does not allow the tenant, naming LHC_TENANT_ID', async () => {
    await started({ lh: { tenants: ['default'] } });
    const t0 = Date.now();
    run({ LHC_TENANT_ID: 'nobody' });
    expect(await worker!.exited).toBe(3);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const refused = worker!.logs.find(key('exitCode', 3))!;
    expect(String(refused.message)).toMatch(/PERMISSION_DENIED.*LHC_TENANT_ID \(it is "nobody"/);
  });

  it('exits 3 at once when LittleHorse wants credentials it did not get, naming the variables', async () => {
    await started({ lh: { bearerToken: 'tok-123' } });
    const t0 = Date.now();
    run();
    expect(await worker!.exited).toBe(3);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(String(worker!.logs.find(key('exitCode', 3))!.message)).toMatch(/UNAUTHENTICATED.*LHC_OAUTH_CLIENT_ID/);
  });

  it('says it created the TaskDef, and that it found it the next time', async () => {
    await started();
    run({ LHW_RUN_MODE: 'job', LHW_IDLE_EXIT_SEC: '0' });
    expect(await worker!.exited).toBe(0);
    expect(worker!.logs.some(event('taskdef-created'))).toBe(true);
    run({ LHW_RUN_MODE: 'job', LHW_IDLE_EXIT_SEC: '0' });
    expect(await worker!.exited).toBe(0);
    expect(worker!.logs.find(event('taskdef-found'))).toMatchObject({ taskName: TASK_NAME, inputs: ['workflow'] });
  });

  it('prints no warning when everything is fine with the default settings', async () => {
    await started();
    run();
    await worker!.waitForLog(event('worker-ready'));
    expect(worker!.logs.filter((line) => line.level !== 'INFO' && line.level !== 'DEBUG')).toEqual([]);
  });

  it('stops during start-up without saying it is ready, and ends with the exit code', async () => {
    await started();
    run({ LHC_API_PORT: String(await closedPort()) });
    await worker!.waitForLog(key('dependency', 'LittleHorse'));
    worker!.child.kill('SIGTERM');
    expect(await worker!.exited).toBe(0);
    expect(worker!.logs.some(event('worker-ready'))).toBe(false);
    expect(lastLine()).toMatchObject({ message: 'worker stopped', exitCode: 0 });
  });

  it('ends with the exit code when it gives up', async () => {
    await started();
    stack!.lh.putTaskDef({ name: TASK_NAME, inputVars: [{ name: 'prompt', typeDef: { type: VariableType.STR, masked: false } }], returnType: undefined });
    run();
    expect(await worker!.exited).toBe(5);
    expect(lastLine()).toMatchObject({ message: 'worker stopped', exitCode: 5, exit: 'TASKDEF_MISMATCH' });
  });
});
