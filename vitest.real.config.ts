import { defineConfig } from 'vitest/config';

// Opt-in: runs the end-to-end scenarios against a real LittleHorse and a real ComfyUI.
export default defineConfig({
  test: {
    include: ['test/real/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
