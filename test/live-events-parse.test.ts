// ComfyUI's live events read by hand (no schema library): what is kept, normalized, dropped or refused.
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../functions/execute-comfyui-workflow/comfy-messages.js';

const frame = (type: string, data: unknown) => JSON.stringify({ type, data });

describe('reading live events', () => {
  it('turns numeric node ids into strings, as every other id', () => {
    expect(parseEvent(frame('executed', { prompt_id: 'p', node: 9, output: {} }))?.data).toMatchObject({ node: '9' });
    expect(parseEvent(frame('execution_cached', { prompt_id: 'p', nodes: [4, '5'] }))?.data).toMatchObject({ nodes: ['4', '5'] });
    expect(parseEvent(frame('execution_error', { prompt_id: 'p', node_id: 3 }))?.data).toMatchObject({ node_id: '3' });
    expect(parseEvent(frame('progress', { prompt_id: 'p', value: 1, max: 4, node: 3 }))?.data).toMatchObject({ node: '3' });
  });

  it('keeps fields it does not know, as ComfyUI versions add them', () => {
    const event = parseEvent(frame('execution_error', { prompt_id: 'p', exception_type: 'RuntimeError', current_inputs: { a: 1 } }));
    expect(event?.data).toMatchObject({ exception_type: 'RuntimeError', current_inputs: { a: 1 } });
  });

  it('drops an optional field of the wrong type rather than the whole event', () => {
    const event = parseEvent(frame('execution_error', { prompt_id: 'p', exception_type: null, exception_message: 'boom', traceback: [1] }));
    expect(event?.type).toBe('execution_error');
    expect(event?.data).toEqual({ prompt_id: 'p', exception_message: 'boom' });
  });

  it('refuses an event without what the worker relies on', () => {
    expect(parseEvent(frame('execution_success', {}))).toBeUndefined();
    expect(parseEvent(frame('executed', { prompt_id: 'p' }))).toBeUndefined();
    expect(parseEvent(frame('executing', { prompt_id: 'p' }))).toBeUndefined();
    expect(parseEvent(frame('execution_cached', { prompt_id: 'p', nodes: [null] }))).toBeUndefined();
    expect(parseEvent(frame('execution_start', 'p'))).toBeUndefined();
  });

  it('skips types named like built-in object properties', () => {
    expect(parseEvent(frame('constructor', { prompt_id: 'p' }))).toBeUndefined();
    expect(parseEvent('{"data": {"prompt_id": "p"}, "type": "toString"}')).toBeUndefined();
  });
});
