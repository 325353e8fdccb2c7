import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FailureError, unavailable } from '../../functions/execute-comfyui-workflow/failure.js';
import type { DownloadOutput } from '../../functions/execute-comfyui-workflow/ports.js';
import type { ComfyHttp } from './http.js';

/**
 * Fetches output files through GET /view, streamed to a temporary file beside the destination and
 * renamed into place, refusing anything larger than maxBytes (by Content-Length, then by count).
 */
export function viewDownloader(http: ComfyHttp, maxBytes: number): DownloadOutput {
  return async (file, destination, signal) => {
    const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
    const response = await http.stream(`/view?${query}`, signal);
    const where = `${file.type}/${file.subfolder ? `${file.subfolder}/` : ''}${file.filename}`;
    if (response.status !== 200 || !response.body) {
      await response.arrayBuffer().catch(() => undefined);
      throw new FailureError(unavailable(`ComfyUI answered HTTP ${response.status} to GET /view for ${where}`));
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      response.body.resume();
      throw new FailureError(tooLarge(where, declared, maxBytes));
    }
    await mkdir(path.dirname(destination), { recursive: true });
    const partial = `${destination}.${process.pid}.part`;
    let received = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        callback(received > maxBytes ? new FailureError(tooLarge(where, received, maxBytes)) : null, chunk);
      },
    });
    try {
      await pipeline(response.body, limit, createWriteStream(partial), { signal });
      await rename(partial, destination);
    } catch (error) {
      await rm(partial, { force: true });
      if (error instanceof FailureError || signal.aborted) throw error;
      throw new FailureError(unavailable(`Downloading ${where} from ComfyUI failed: ${(error as Error).message}`));
    }
  };
}

function tooLarge(where: string, bytes: number, maxBytes: number) {
  return unavailable(
    `Output ${where} is larger than COMFYUI_DOWNLOAD_MAX_BYTES (${bytes} > ${maxBytes} bytes); raise the limit or share ComfyUI's output folder instead.`,
  );
}
