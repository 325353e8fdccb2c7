import { type Failure, toFailure } from './failure.js';
import type { MediaBytes, MediaKind, PlaceInput } from './ports.js';
import type { Workflow } from './workflow.js';

/** ComfyUI's core loaders and the file input each reads from the input folder (nodes.py, comfy_extras). */
const LOADERS: Record<string, { input: string; media: MediaKind }> = {
  LoadImage: { input: 'image', media: 'image' },
  LoadImageMask: { input: 'image', media: 'image' },
  LoadAudio: { input: 'audio', media: 'audio' },
  LoadVideo: { input: 'file', media: 'video' },
};

/** A value to fetch, rather than the name of a file already in ComfyUI's input folder. */
export const FETCHABLE = /^(https?:\/\/|s3:\/\/|gs:\/\/|data:)/i;

/** The failure, saying which input it was about. */
function about(failure: Failure, prefix: string, details: Record<string, unknown>): Failure {
  return { ...failure, message: `${prefix}: ${failure.message}`, details: { ...details, ...(typeof failure.details === 'object' && failure.details !== null ? failure.details : {}) } };
}

/**
 * Places one media input through the port; a failure comes back as a value, prefixed with which input
 * it was about (a stop of the task is the stop's own failure).
 */
export async function placeMediaInput(
  place: PlaceInput,
  source: string | MediaBytes,
  target: { nodeId: string; input: string; media: MediaKind },
  signal: AbortSignal,
  which: { prefix: string; details: Record<string, unknown> },
): Promise<{ ok: true; name: string } | { ok: false; failure: Failure }> {
  try {
    return { ok: true, name: await place(source, target, signal) };
  } catch (error) {
    if (signal.aborted) return { ok: false, failure: toFailure(signal.reason) };
    return { ok: false, failure: about(toFailure(error), which.prefix, which.details) };
  }
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
    const result = await placeMediaInput(place, source, { nodeId, input, media }, signal, { prefix: `Node ${nodeId} input ${input}`, details: { node_id: nodeId, input } });
    if (!result.ok) return result;
    placed[nodeId] = { ...placed[nodeId]!, inputs: { ...placed[nodeId]!.inputs, [input]: result.name } };
    log(`input ${nodeId}.${input} uploaded to ComfyUI as ${result.name}`);
  }
  return { ok: true, workflow: placed };
}
