import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { event } from './support/worker-process.js';
import { makeTestCertificates } from '../devstack/littlehorse/index.js';
import { type Stack } from './support/stack.js';
import { stackFixture } from './support/stack-fixture.js';

const fixture = stackFixture();
const ready = fixture.ready;
let stack: Stack | undefined;

describe('surviving LittleHorse faults', () => {
  it('reports the result when the server restarts while a task runs', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 1_000 } });
    await ready();
    const task = stack.schedule();
    await new Promise<void>((resolve) => stack!.comfy.events.once('started', () => resolve()));
    await stack.lh.restart(300);
    const done = await stack.lh.waitForTaskRun(task.id);
    expect(done.status).toBe('TASK_SUCCESS');
  });

  it('reopens a broken PollTask stream quickly and takes the next task', async () => {
    stack = await fixture.start();
    await ready();
    const opened = stack.lh.stats.pollStreamsOpened;
    stack.lh.killPollStreams();
    const t0 = Date.now();
    const done = await stack.lh.waitForTaskRun(stack.schedule().id);
    expect(done.status).toBe('TASK_SUCCESS');
    expect(stack.lh.stats.pollStreamsOpened).toBeGreaterThan(opened);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('retries a report that fails with UNAVAILABLE', async () => {
    stack = await fixture.start();
    await ready();
    stack.lh.failNextReports(2);
    const done = await stack.lh.waitForTaskRun(stack.schedule().id);
    expect(done.status).toBe('TASK_SUCCESS');
    expect(stack.lh.stats.reports).toBe(3);
  });

  it('polls every host LittleHorse assigns', async () => {
    stack = await fixture.start({ lh: { hostCount: 2 } });
    await ready();
    const runs = [0, 1, 0, 1].map((instance) =>
      stack!.lh.scheduleTask({ taskDefName: 'execute-comfyui-workflow', variables: { workflow: { jsonObj: JSON.stringify({ '9': { class_type: 'PreviewAny', inputs: { source: 'hello' } } }) } }, instance }),
    );
    for (const r of runs) expect((await stack.lh.waitForTaskRun(r.id)).status).toBe('TASK_SUCCESS');
  });

  it('authenticates with OAuth client credentials', async () => {
    const tokens = createServer((request, response) => {
      const ok = request.headers.authorization === `Basic ${Buffer.from('worker:s3cret').toString('base64')}`;
      response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      response.end(JSON.stringify(ok ? { access_token: 'tok-123', expires_in: 3600, token_type: 'Bearer' } : { error: 'invalid_client' }));
    });
    await new Promise<void>((resolve) => tokens.listen(0, '127.0.0.1', resolve));
    try {
      stack = await fixture.start({ lh: { bearerToken: 'tok-123' } });
      await ready({
        LHC_OAUTH_CLIENT_ID: 'worker',
        LHC_OAUTH_CLIENT_SECRET: 's3cret',
        LHC_OAUTH_ACCESS_TOKEN_URL: `http://127.0.0.1:${(tokens.address() as AddressInfo).port}/token`,
      });
      expect((await stack.lh.waitForTaskRun(stack.schedule().id)).status).toBe('TASK_SUCCESS');
    } finally {
      tokens.close();
    }
  });
});

describe('TLS', () => {
  it('connects over TLS, verifying the server with LHC_CA_CERT', async () => {
    const certs = makeTestCertificates();
    stack = await fixture.start({ lh: { tls: { cert: certs.serverCert, key: certs.serverKey } } });
    await ready({ LHC_API_PROTOCOL: 'TLS', LHC_CA_CERT: certs.caPath });
    expect((await stack.lh.waitForTaskRun(stack.schedule().id)).status).toBe('TASK_SUCCESS');
  });
});

describe('deadlines and at-most-once GPU work', () => {
  it('stops the work before LittleHorse times the TaskRun out, saying which timeout fired', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 10_000 } });
    await ready({ LHW_TIMEOUT_MARGIN_SEC: '1' });
    const done = await stack.lh.waitForTaskRun(stack.schedule(undefined, { timeoutSeconds: 3 }).id);
    expect(done.status).toBe('TASK_FAILED');
    expect(done.attempts[0]!.error?.message).toContain("LittleHorse's TaskRun timeout (3 s");
    expect(stack.comfy.stats.interrupts).toHaveLength(1);
  });

  it('does not run a redelivered TaskRun twice on ComfyUI', async () => {
    stack = await fixture.start({ comfy: { runTimeMs: 2_000 } });
    const first = await ready({ LHW_TIMEOUT_MARGIN_SEC: '0' });
    const task = stack.schedule(undefined, { timeoutSeconds: 3, retries: 1 });
    await new Promise<void>((resolve) => stack!.comfy.events.once('started', () => resolve()));
    first.child.kill('SIGKILL'); // the prompt keeps running on ComfyUI; LittleHorse times the attempt out
    await ready({ LHW_TIMEOUT_MARGIN_SEC: '0' });
    const done = await stack.lh.waitForTaskRun(task.id);
    expect(done.attempts.map((a) => a.status)).toEqual(['TASK_TIMEOUT', 'TASK_SUCCESS']);
    expect(stack.comfy.stats.promptsSubmitted).toBe(1);
    expect(done.attempts[1]!.logOutput?.str).toContain('attached to prompt');
  });
});

describe('ComfyUI going away', () => {
  it('takes no work while ComfyUI is down and resumes when it is back', async () => {
    stack = await fixture.start();
    const worker = await ready();
    await stack.comfy.down();
    await worker.waitForLog(event('comfyui-down'));
    const polled = stack.lh.stats.pollRequests;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(stack.lh.stats.pollRequests).toBe(polled);
    await stack.comfy.up();
    const done = await stack.lh.waitForTaskRun(stack.schedule().id);
    expect(done.status).toBe('TASK_SUCCESS');
  });
});
