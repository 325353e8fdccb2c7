import { describe, expect, it } from 'vitest';
import { parseEvent } from '../functions/execute-comfyui-workflow/comfy-messages.js';
import { ProgressLog } from '../functions/execute-comfyui-workflow/progress.js';
import { parseWorkflow } from '../functions/execute-comfyui-workflow/workflow.js';
import txt2img from '../devstack/workflows/txt2img.json' with { type: 'json' };

function progressLog() {
  const parsed = parseWorkflow(txt2img);
  if (!parsed.ok) throw new Error('sample workflow does not parse');
  const lines: string[] = [];
  const structured: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const record = (level: string) => (message: string, ...extra: Record<string, unknown>[]) =>
    structured.push({ level, message, fields: Object.assign({}, ...extra) });
  const logger = { debug: record('debug'), info: record('info'), warn: record('warn') };
  const clock = { ms: 0 };
  const progress = new ProgressLog(parsed.workflow, 'prompt-1', (line) => lines.push(line), logger, () => clock.ms);
  const send = (type: string, data: Record<string, unknown>) => {
    const event = parseEvent(JSON.stringify({ type, data: { prompt_id: 'prompt-1', ...data } }));
    if (!event) throw new Error(`the ${type} event did not parse`);
    progress.onEvent(event);
  };
  return { lines, structured, send, clock };
}

describe('progress log', () => {
  it('throttles a 1,000-step sampler to about ten lines, always including the last step', () => {
    const { lines, send } = progressLog();
    for (let step = 1; step <= 1_000; step++) send('progress', { node: '3', value: step, max: 1_000 });
    const steps = lines.filter((l) => l.includes('step'));
    expect(steps.length).toBeGreaterThanOrEqual(10);
    expect(steps.length).toBeLessThanOrEqual(12);
    expect(steps.at(-1)).toBe('node 3 (KSampler) step 1000/1000');
  });

  it('puts progress in structured logs at INFO at most every 5 s, the rest at DEBUG, all with the prompt id', () => {
    const { lines, structured, send, clock } = progressLog();
    send('execution_start', {});
    send('executing', { node: '3' });
    clock.ms = 4_999;
    send('progress', { node: '3', value: 1, max: 4 });
    clock.ms = 5_000;
    send('progress', { node: '3', value: 2, max: 4 });
    expect(lines).toEqual(['execution started', 'node 3 (KSampler) started', 'node 3 (KSampler) step 1/4', 'node 3 (KSampler) step 2/4']);
    expect(structured.map((s) => s.level)).toEqual(['info', 'debug', 'debug', 'info']);
    expect(structured.every((s) => s.fields.promptId === 'prompt-1')).toBe(true);
  });
});
