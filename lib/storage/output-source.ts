import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { FailureError, unavailable } from '../../functions/execute-comfyui-workflow/failure.js';
import type { OutputFile } from '../../functions/execute-comfyui-workflow/outputs.js';
import type { ComfyHttp } from '../comfyui/http.js';

export interface OutputBytes {
  body: Readable;
  /** The size the source declares (file size, Content-Length), checked against what was read. */
  size: number | undefined;
  /** Read from this worker's output folder (else through GET /view: the file is not there). */
  fromFolder: boolean;
}

export type OpenOutput = (file: OutputFile, signal: AbortSignal) => Promise<OutputBytes>;

/** An output's bytes: from the shared (or download) folder when the file is there, else through GET /view. */
export function outputSource(http: ComfyHttp): OpenOutput {
  return async (file, signal) => {
    const local = file.path === null ? undefined : await stat(file.path).catch(() => undefined);
    if (file.path !== null && local?.isFile()) return { body: createReadStream(file.path, { signal }), size: local.size, fromFolder: true };
    const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
    const response = await http.stream(`/view?${query}`, signal);
    if (response.status !== 200 || !response.body) {
      await response.arrayBuffer().catch(() => undefined);
      throw new FailureError(unavailable(`ComfyUI answered HTTP ${response.status} to GET /view for ${file.type}/${file.subfolder}/${file.filename}`));
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    return { body: response.body as Readable, size: Number.isFinite(declared) ? declared : undefined, fromFolder: false };
  };
}
