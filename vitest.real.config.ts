import { defineConfig } from 'vitest/config';

// Opt-in (`npm run test:real`): the scenarios of test/real/ against a real LittleHorse and a real ComfyUI.
export default defineConfig({
  test: {
    include: ['test/real/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 180_000,
  },
});
