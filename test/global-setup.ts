import { execFileSync } from 'node:child_process';

// End-to-end tests spawn the real bundle: build it once before any test file runs.
export default function setup(): void {
  execFileSync(process.execPath, ['esbuild.config.mjs'], { stdio: 'inherit' });
}
