import type { ScheduledTask } from 'littlehorse-client/proto';
import { describe, expect, it } from 'vitest';
import { readTaskValues } from '../lib/littlehorse/task-input.js';

const task = (variables: ScheduledTask['variables']): ScheduledTask =>
  ({ taskDefId: { name: 'comfyui-text-to-image' }, variables, attemptNumber: 0, createdAt: undefined, source: undefined }) as unknown as ScheduledTask;

describe('reading a template task\'s typed input variables', () => {
  it('decodes each LittleHorse type by name, parsing JSON once', () => {
    const values = readTaskValues(
      task([
        { varName: 'prompt', value: { str: 'a cat' }, masked: false },
        { varName: 'seed', value: { int: 42 }, masked: false },
        { varName: 'cfg', value: { double: 7.5 }, masked: false },
        { varName: 'tiled', value: { bool: true }, masked: false },
        { varName: 'loras', value: { jsonArr: '[{"name":"a"}]' }, masked: false },
        { varName: 'extra', value: { jsonObj: '{"k":1}' }, masked: false },
        { varName: 'negative', value: {}, masked: false },
      ]),
    );
    expect(values).toEqual({
      prompt: { type: 'STR', value: 'a cat' },
      seed: { type: 'INT', value: 42 },
      cfg: { type: 'DOUBLE', value: 7.5 },
      tiled: { type: 'BOOL', value: true },
      loras: { type: 'JSON_ARR', value: [{ name: 'a' }] },
      extra: { type: 'JSON_OBJ', value: { k: 1 } },
      negative: { type: 'NULL' },
    });
  });

  it('marks JSON that does not parse as unreadable, saying why', () => {
    const values = readTaskValues(task([{ varName: 'extra', value: { jsonObj: '{oops' }, masked: false }]));
    expect(values.extra).toMatchObject({ type: 'UNREADABLE', problem: expect.stringContaining('the JSON_OBJ value is not valid JSON') });
  });
});
