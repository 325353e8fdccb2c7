import { defineConfig } from 'vitest/config';

// Opt-in (`npm run test:comfyui`): the bundle, the LittleHorse double and a real ComfyUI on CPU
// (test/comfyui-real/). Never part of `npm test`: CI has no copy of ComfyUI's code.
export default defineConfig({
  test: {
    include: ['test/comfyui-real/**/*.test.ts'],
    globalSetup: ['test/comfyui-real/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
