import path from 'node:path';
import { FailureError, unavailable } from '../../functions/execute-comfyui-workflow/failure.js';
import { mediaTypeOf } from '../../functions/execute-comfyui-workflow/media-type.js';
import type { MediaBytes, MediaKind, PlaceInput } from '../../functions/execute-comfyui-workflow/ports.js';
import { contentTypeOf } from '../storage/content-type.js';
import { describeSource, type FetchedMedia, type FetchObject, fetchSource, invalidInput, tooLarge } from './fetch-source.js';
import type { MediaInputConfig } from './media-config.js';

export interface InputPlacer {
  /** The placer for one TaskRun: its files go to a subfolder of their own, the same on every attempt. */
  forTask(task: { wfRunId: string; taskGuid: string }): PlaceInput;
}

const GENERIC = new Set([undefined, '', 'application/octet-stream', 'binary/octet-stream']);
const EXTENSION: Record<string, string> = {
  'image/jpeg': '.jpg',
  'audio/mpeg': '.mp3',
  'audio/x-wav': '.wav',
  'audio/mp4': '.m4a',
  'video/quicktime': '.mov',
  'video/x-msvideo': '.avi',
};

const safeName = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 120);

/**
 * Fetches each media input (or takes a BYTES variable's bytes), checks what its bytes are, and uploads
 * it to ComfyUI with POST /upload/image (type=input, overwrite), modelled on server.py `image_upload`,
 * which stores any file type under the part's filename.
 */
export function inputPlacer(config: MediaInputConfig, comfyBaseUrl: string, httpTimeoutMs: number, fetchObject?: FetchObject): InputPlacer {
  return {
    forTask: (task) => async (source, input, signal) => {
      const media = typeof source === 'string' ? await fetched(source, config, signal, fetchObject) : given(source, config.maxBytes);
      const type = media.contentType?.toLowerCase();
      // The bytes decide, not the name or the server's claim: a file ComfyUI cannot read would fail mid-prompt.
      const checked = mediaTypeOf(media.data, input.media, GENERIC.has(type) ? contentTypeOf(media.name ?? '') : type);
      if (!checked.ok) throw invalidInput(`Input ${media.where} ${checked.problem}`, { source: media.where, content_type: type ?? null });
      const name = fileName(media.name, checked.contentType, input.media);
      const subfolder = safeName(`lh_${task.wfRunId}_${task.taskGuid}`);
      const signals = AbortSignal.any([signal, AbortSignal.timeout(httpTimeoutMs)]);
      return upload(comfyBaseUrl, { data: media.data, name, contentType: checked.contentType, subfolder }, signals);
    },
  };
}

type Media = FetchedMedia & { where: string };

async function fetched(source: string, config: MediaInputConfig, signal: AbortSignal, fetchObject: FetchObject | undefined): Promise<Media> {
  return { ...(await fetchSource(source, config, signal, fetchObject)), where: describeSource(source) };
}

/** A BYTES variable's own bytes: only the size limit left to check (LittleHorse carried them). */
function given(source: MediaBytes, maxBytes: number): Media {
  const where = `of ${source.data.length} bytes`;
  if (source.data.length > maxBytes) throw tooLarge(where, source.data.length, maxBytes);
  return { data: Buffer.from(source.data.buffer, source.data.byteOffset, source.data.byteLength), contentType: source.contentType, name: source.name, where };
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
