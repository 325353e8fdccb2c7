import { describe, expect, it } from 'vitest';
import { parseEvent } from '../functions/execute-comfyui-workflow/comfy-messages.js';

describe('ComfyUI live messages', () => {
  it('parses an event the worker acts on, whatever the key order', () => {
    expect(parseEvent('{"type": "executing", "data": {"node": "3", "prompt_id": "p"}}')).toEqual({
      type: 'executing',
      data: { node: '3', prompt_id: 'p' },
    });
    expect(parseEvent('{"data": {"node": null, "prompt_id": "p"}, "type": "executing"}')).toEqual({
      type: 'executing',
      data: { node: null, prompt_id: 'p' },
    });
  });

  it('skips status, progress_state and custom nodes\' messages', () => {
    expect(parseEvent('{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}}}')).toBeUndefined();
    expect(parseEvent('{"type": "progress_state", "data": {"prompt_id": "p", "nodes": {}}}')).toBeUndefined();
    expect(parseEvent('{"type": "crystools.monitor", "data": {"cpu_utilization": 3}}')).toBeUndefined();
  });

  it('tolerates a frame that is not JSON or whose data does not fit', () => {
    expect(parseEvent('not json')).toBeUndefined();
    expect(parseEvent('{"type": "progress", "data": {"value": "three"}}')).toBeUndefined();
  });
});
