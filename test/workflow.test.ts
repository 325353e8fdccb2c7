import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../functions/execute-comfyui-workflow/workflow.js';

describe('parsing the workflow task input', () => {
  it('accepts an API-format graph', () => {
    const result = parseWorkflow({ '9': { class_type: 'SaveImage', inputs: { images: ['8', 0] } } });
    expect(result.ok).toBe(true);
  });

  it('unwraps a body shaped like POST /prompt', () => {
    const result = parseWorkflow({ prompt: { '9': { class_type: 'SaveImage', inputs: {} } } });
    expect(result.ok && Object.keys(result.workflow)).toEqual(['9']);
  });

  it('names the node and the field that is wrong', () => {
    const result = parseWorkflow({ '3': { inputs: {} }, '4': { class_type: 'KSampler', inputs: 'x' } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.kind).toBe('validation');
    expect(result.failure.message).toContain('node "3".class_type');
    expect(result.failure.message).toContain('node "4".inputs');
  });

  it('explains that a UI-format workflow must be exported in API format', () => {
    const result = parseWorkflow({ nodes: [], links: [], version: 0.4 });
    expect(!result.ok && result.failure.message).toContain('Save (API Format)');
  });

  it('refuses an empty graph and a non-object', () => {
    expect(parseWorkflow({}).ok).toBe(false);
    expect(parseWorkflow([1, 2]).ok).toBe(false);
    expect(parseWorkflow('{}').ok).toBe(false);
  });
});
