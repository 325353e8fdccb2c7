import { type Failure, toFailure } from './failure.js';
import type { MediaKind, PlaceInput } from './ports.js';
import type { Workflow } from './workflow.js';

/** ComfyUI's core loaders and the file input each reads from the input folder (nodes.py, comfy_extras). */
const LOADERS: Record<string, { input: string; media: MediaKind }> = {
  LoadImage: { input: 'image', media: 'image' },
  LoadImageMask: { input: 'image', media: 'image' },
  LoadAudio: { input: 'audio', media: 'audio' },
  LoadVideo: { input: 'file', media: 'video' },
};

const FETCHABLE = /^(https?:\/\/|s3:\/\/|gs:\/\/|data:)/i;

/** The failure, saying which node's input it was about. */
function aboutInput(failure: Failure, nodeId: string, input: string): Failure {
  const message = `Node ${nodeId} input ${input}: ${failure.message}`;
  const details = { node_id: nodeId, input, ...(typeof failure.details === 'object' && failure.details !== null ? failure.details : {}) };
  return { ...failure, message, details };
}

export interface MediaInput {
  nodeId: string;
  input: string;
  media: MediaKind;
  source: string;
}

/** Every loader input whose value is something to fetch rather than a file already in ComfyUI's input folder. */
export function mediaInputsOf(workflow: Workflow): MediaInput[] {
  return Object.entries(workflow).flatMap(([nodeId, node]) => {
    const loader = LOADERS[node.class_type];
    const value = loader ? node.inputs[loader.input] : undefined;
    return loader && typeof value === 'string' && FETCHABLE.test(value) ? [{ nodeId, input: loader.input, media: loader.media, source: value }] : [];
  });
}

/**
 * The workflow with each fetchable media input replaced by the name ComfyUI stored it under (it may
 * rename). The caller's workflow is left as it was; the first failure ends the work, as a value.
 */
export async function placeMediaInputs(
  workflow: Workflow,
  place: PlaceInput,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<{ ok: true; workflow: Workflow } | { ok: false; failure: Failure }> {
  const inputs = mediaInputsOf(workflow);
  if (inputs.length === 0) return { ok: true, workflow };
  const placed: Workflow = { ...workflow };
  for (const { nodeId, input, media, source } of inputs) {
    try {
      const name = await place(source, { nodeId, input, media }, signal);
      placed[nodeId] = { ...placed[nodeId]!, inputs: { ...placed[nodeId]!.inputs, [input]: name } };
      log(`input ${nodeId}.${input} uploaded to ComfyUI as ${name}`);
    } catch (error) {
      if (signal.aborted) return { ok: false, failure: toFailure(signal.reason) };
      return { ok: false, failure: aboutInput(toFailure(error), nodeId, input) };
    }
  }
  return { ok: true, workflow: placed };
}
