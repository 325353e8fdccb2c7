import { describe, expect, it } from 'vitest';
import { type Failure, nodeFailure, validationFailure } from '../functions/execute-comfyui-workflow/failure.js';
import { invalidNodes } from '../lib/comfyui/client.js';
import { promptRejectedSchema } from '../functions/execute-comfyui-workflow/comfy-messages.js';

const nameOf = (failure: Failure) => ('name' in failure ? failure.name : undefined);

// POST /prompt answers as ComfyUI 0.8.0 sent them (test/comfyui-real/transcripts has the runs).
const fromBody = (body: unknown) => {
  const rejected = promptRejectedSchema.parse(body);
  const error = typeof rejected.error === 'object' ? rejected.error : {};
  return validationFailure({ type: error.type ?? null, message: error.message ?? '', details: error.details ?? null }, invalidNodes(rejected.node_errors));
};
const missingNode = {
  error: { type: 'invalid_prompt', message: 'Cannot execute because node NoSuchNode does not exist.', details: "Node ID '#1'", extra_info: {} },
  node_errors: {},
};
const missingCheckpoint = {
  error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
  node_errors: {
    '1': {
      errors: [
        {
          type: 'value_not_in_list',
          message: 'Value not in list',
          details: "ckpt_name: 'v1-5.safetensors' not in []",
          extra_info: { input_name: 'ckpt_name', input_config: [[], {}], received_value: 'v1-5.safetensors' },
        },
      ],
      dependent_outputs: ['2'],
      class_type: 'CheckpointLoaderSimple',
    },
  },
};
const badWidth = {
  error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
  node_errors: {
    '1': {
      errors: [{ type: 'invalid_input_type', message: 'Failed to convert an input value to a INT value', details: "width, wide, invalid literal for int() with base 10: 'wide'", extra_info: { input_name: 'width' } }],
      dependent_outputs: ['3'],
      class_type: 'EmptyImage',
    },
  },
};

describe('outcomes a WfSpec can route on', () => {
  it('names a node class ComfyUI does not have comfyui-missing-node, with its id and class', () => {
    const failure = fromBody(missingNode);
    expect(failure).toMatchObject({ kind: 'validation', name: 'comfyui-missing-node', details: { missing: { node_id: '1', class_type: 'NoSuchNode' } } });
  });

  it("names a loader's value_not_in_list comfyui-missing-model, with the node, input and file", () => {
    const failure = fromBody(missingCheckpoint);
    expect(failure).toMatchObject({
      name: 'comfyui-missing-model',
      details: { missing: [{ node_id: '1', class_type: 'CheckpointLoaderSimple', input_name: 'ckpt_name', value: 'v1-5.safetensors' }] },
    });
    expect(failure.message).toContain("node 1 (CheckpointLoaderSimple): Value not in list: ckpt_name: 'v1-5.safetensors' not in []");
  });

  it('keeps comfyui-invalid-workflow for a model missing beside other errors', () => {
    const both = { ...missingCheckpoint, node_errors: { ...missingCheckpoint.node_errors, ...badWidth.node_errors } };
    expect(nameOf(fromBody(both))).toBe('comfyui-invalid-workflow');
  });

  it('keeps comfyui-invalid-workflow for a value out of a non-model option list', () => {
    const sampler = structuredClone(missingCheckpoint);
    sampler.node_errors['1'] = { ...sampler.node_errors['1'], class_type: 'KSampler' };
    sampler.node_errors['1'].errors[0]!.extra_info = { input_name: 'sampler_name', input_config: [[], {}], received_value: 'eulr' };
    expect(nameOf(fromBody(sampler))).toBe('comfyui-invalid-workflow');
  });

  it('keeps comfyui-invalid-workflow for a wrong value', () => {
    expect(fromBody(badWidth)).toMatchObject({ name: 'comfyui-invalid-workflow', details: { node_errors: [{ node_id: '1', class_type: 'EmptyImage' }] } });
  });

  it.each(['torch.OutOfMemoryError', 'torch.cuda.OutOfMemoryError', 'MemoryError'])('names an execution error of type %s comfyui-out-of-memory', (type) => {
    const failure = nodeFailure({ prompt_id: 'p', node_id: '3', node_type: 'KSampler', exception_type: type, exception_message: 'Allocation on device' });
    expect(failure).toMatchObject({ kind: 'execution', name: 'comfyui-out-of-memory', details: { node_id: '3', exception_type: type } });
    expect(failure.message).toContain('ran out of memory');
  });

  it('keeps comfyui-execution-error for any other exception', () => {
    expect(nameOf(nodeFailure({ node_id: '3', exception_type: 'Exception', exception_message: 'Saving image outside the output folder is not allowed.' }))).toBe(
      'comfyui-execution-error',
    );
  });
});
