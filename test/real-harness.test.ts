import { afterEach, describe, it } from 'vitest';
import { type Harness, startHarness } from './real/harness.js';
import { scenarios } from './real/scenarios.js';
import { sampleWorkflow, type Stack, startStack } from './support/stack.js';

let stack: Stack | undefined;
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  await stack?.stop();
  stack = undefined;
});

describe('the harness of npm run test:real', () => {
  it('passes its scenarios against the LittleHorse and ComfyUI doubles', async () => {
    stack = await startStack();
    harness = await startHarness({ workerEnv: stack.env(), workflow: sampleWorkflow, taskTimeoutSeconds: 30 });
    for (const scenario of Object.values(scenarios)) await scenario(harness);
  });
});
