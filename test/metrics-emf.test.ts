import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmfMetrics } from '../lib/metrics/emf.js';

/** The EMF lines written to stdout while `run` goes on. */
function captureStdout() {
  const lines: Array<Record<string, unknown>> = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) if (line.includes('"_aws"')) lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  });
  return { lines, restore: () => spy.mockRestore() };
}

let restore = () => {};
afterEach(() => {
  restore();
  vi.useRealTimers();
});

describe('ComfyUIUp from the EMF adapter', () => {
  it('prints the 0 again while ComfyUI stays down, and stops once it is back', () => {
    vi.useFakeTimers();
    const out = captureStdout();
    restore = out.restore;
    const metrics = new EmfMetrics('execute-comfyui-workflow', new Logger({ logLevel: 'ERROR' }), 1_000);
    metrics.comfyUiUp(false);
    vi.advanceTimersByTime(3_500);
    metrics.comfyUiUp(true);
    vi.advanceTimersByTime(5_000);
    expect(out.lines.map((line) => line.ComfyUIUp)).toEqual([0, 0, 0, 0, 1]);
  });
});
