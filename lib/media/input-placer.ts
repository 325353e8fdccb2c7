import path from 'node:path';
import { FailureError, unavailable } from '../../functions/execute-comfyui-workflow/failure.js';
import type { MediaKind, PlaceInput } from '../../functions/execute-comfyui-workflow/ports.js';
import { contentTypeOf } from '../storage/content-type.js';
import { describeSource, type FetchObject, fetchSource, invalidInput } from './fetch-source.js';
import type { MediaInputConfig } from './media-config.js';

export interface InputPlacer {
  /** The placer for one TaskRun: its files go to a subfolder of their own, the same on every attempt. */
  forTask(task: { wfRunId: string; taskGuid: string }): PlaceInput;
}

const GENERIC = new Set([undefined, '', 'application/octet-stream', 'binary/octet-stream']);
const EXTENSION: Record<string, string> = { 'image/jpeg': '.jpg', 'audio/mpeg': '.mp3', 'audio/x-wav': '.wav', 'video/quicktime': '.mov' };

const safeName = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 120);

/**
 * Fetches each media input and uploads it to ComfyUI with POST /upload/image (type=input, overwrite),
 * modelled on server.py `image_upload`, which stores any file type under the part's filename.
 */
export function inputPlacer(config: MediaInputConfig, comfyBaseUrl: string, httpTimeoutMs: number, fetchObject?: FetchObject): InputPlacer {
  return {
    forTask: (task) => async (source, input, signal) => {
      const where = describeSource(source);
      const media = await fetchSource(source, config, signal, fetchObject);
      const name = fileName(media.name, media.contentType, input.media);
      const type = media.contentType?.toLowerCase();
      const declared = GENERIC.has(type) ? contentTypeOf(name) : type!;
      if (!declared.startsWith(`${input.media}/`)) {
        throw invalidInput(
          `Input ${where} is ${type ?? 'of an unknown type'}, not ${input.media === 'image' ? 'an' : 'a'} ${input.media}`,
          { source: where, content_type: type ?? null },
        );
      }
      const subfolder = safeName(`lh_${task.wfRunId}_${task.taskGuid}`);
      return upload(comfyBaseUrl, { data: media.data, name, contentType: declared, subfolder }, AbortSignal.any([signal, AbortSignal.timeout(httpTimeoutMs)]));
    },
  };
}

function fileName(fromSource: string | undefined, contentType: string | undefined, media: MediaKind): string {
  const base = safeName(fromSource ?? '') || media;
  if (path.extname(base)) return base;
  const subtype = contentType?.startsWith(`${media}/`) ? contentType.slice(media.length + 1).replace(/^x-/, '') : undefined;
  return `${base}${EXTENSION[contentType ?? ''] ?? (subtype ? `.${subtype}` : '')}`;
}

async function upload(
  baseUrl: string,
  file: { data: Buffer; name: string; contentType: string; subfolder: string },
  signal: AbortSignal,
): Promise<string> {
  const form = new FormData();
  form.append('image', new Blob([file.data], { type: file.contentType }), file.name);
  form.append('type', 'input');
  form.append('subfolder', file.subfolder);
  form.append('overwrite', 'true');
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/upload/image`, { method: 'POST', body: form, signal });
  } catch (error) {
    throw new FailureError(unavailable(`Uploading input ${file.name} to ComfyUI failed: ${(error as Error).message}`));
  }
  const text = await response.text();
  if (response.status !== 200) {
    throw new FailureError(unavailable(`ComfyUI answered HTTP ${response.status} to POST /upload/image for ${file.subfolder}/${file.name}`));
  }
  const reply = JSON.parse(text) as { name?: unknown; subfolder?: unknown };
  if (typeof reply.name !== 'string') throw new FailureError(unavailable(`ComfyUI's answer to POST /upload/image has no name: ${text.slice(0, 200)}`));
  // LoadImage reads "subfolder/name" relative to the input folder (folder_paths.get_annotated_filepath).
  return typeof reply.subfolder === 'string' && reply.subfolder !== '' ? `${reply.subfolder}/${reply.name}` : reply.name;
}
