import { defineConfig } from 'vitest/config';
import { comfyTarget, NEEDS_COMFYUI } from './test/comfyui-real/real-comfy.js';

// Opt-in (`npm run test:comfyui`): the bundle, the LittleHorse double and a real ComfyUI on CPU
// (test/comfyui-real/). Never part of `npm test`: CI has no copy of ComfyUI's code.
if (!comfyTarget()) {
  console.error(`\n${NEEDS_COMFYUI}\n`);
  process.exit(2);
}

export default defineConfig({
  test: {
    include: ['test/comfyui-real/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
