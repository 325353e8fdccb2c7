// POST /upload/image, modelled on server.py `upload_image` → `image_upload`: a multipart form with
// the file part `image` (its part filename is the stored name), `type` (input by default), `subfolder`
// and `overwrite` ("true" or "1" only). Without overwrite an existing name with identical bytes is
// reused, else "name (1).ext", "name (2).ext"… is tried. A subfolder or name that leaves the folder,
// a missing part or an empty filename: 400. No check of the file's type.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { OutputDirs } from './outputs.js';

interface Part {
  name: string;
  filename?: string;
  data: Buffer;
}

/** A multipart/form-data body split into its parts (what aiohttp's request.post() gives). */
function parseMultipart(body: Buffer, contentType: string): Part[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) return [];
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const chunk = body.subarray(start + delimiter.length + 2, next - 2); // past CRLF, before CRLF
    const headerEnd = chunk.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = chunk.subarray(0, headerEnd).toString('utf8');
      const name = /name="([^"]*)"/i.exec(headers)?.[1];
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
      if (name !== undefined) parts.push({ name, filename, data: chunk.subarray(headerEnd + 4) });
    }
    start = next;
  }
  return parts;
}

const inside = (dir: string, p: string): boolean => p === dir || p.startsWith(dir + path.sep);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export async function uploadImage(req: IncomingMessage, res: ServerResponse, dirs: OutputDirs): Promise<void> {
  const reply = (status: number, body?: unknown) => {
    res.writeHead(status, { 'Content-Type': body === undefined ? 'text/plain; charset=utf-8' : 'application/json' });
    res.end(body === undefined ? `${status}: Bad Request` : JSON.stringify(body));
  };
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const parts = parseMultipart(Buffer.concat(chunks), req.headers['content-type'] ?? '');
  const field = (name: string) => parts.find((p) => p.name === name && p.filename === undefined)?.data.toString('utf8');
  const image = parts.find((p) => p.name === 'image' && p.filename !== undefined);
  const type = field('type') ?? 'input';
  const dir = type === 'input' ? dirs.input : type === 'temp' ? dirs.temp : type === 'output' ? dirs.output : undefined;
  if (!dir) return reply(500); // get_dir_by_type returns no folder for another type: the join raises
  if (!image) return reply(400);
  let filename = image.filename!;
  if (!filename) return reply(400);
  const subfolder = field('subfolder') ?? '';
  const folder = path.join(dir, path.normalize(subfolder));
  let filepath = path.resolve(folder, filename);
  if (!inside(dir, filepath)) return reply(400);
  await mkdir(folder, { recursive: true });
  const overwrite = field('overwrite');
  let duplicate = false;
  if (overwrite !== 'true' && overwrite !== '1') {
    const { name, ext } = path.parse(filename);
    for (let i = 1; existsSync(filepath); i++) {
      if (sha256(readFileSync(filepath)) === sha256(image.data)) {
        duplicate = true;
        break;
      }
      filename = `${name} (${i})${ext}`;
      filepath = path.join(folder, filename);
    }
  }
  if (!duplicate) await writeFile(filepath, image.data);
  reply(200, { name: filename, subfolder, type });
}
