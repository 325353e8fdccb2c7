// GET /view, modelled on server.py `view_image` (without the preview/channel re-encoding).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { OutputDirs } from './outputs.js';

const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.flac': 'audio/flac',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/x-wav',
  '.glb': 'model/gltf-binary',
  '.json': 'application/json',
  '.txt': 'text/plain',
};

export async function serveView(query: URLSearchParams, dirs: OutputDirs, res: ServerResponse): Promise<void> {
  const done = (status: number) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(status === 404 ? '404: Not Found' : '');
  };
  const raw = query.get('filename');
  if (raw === null) return done(404);
  if (!raw) return done(400);
  // "validation for security: prevent accessing arbitrary path"
  if (raw.startsWith('/') || raw.includes('..')) return done(400);
  const type = query.get('type') ?? 'output';
  let dir = type === 'output' ? dirs.output : type === 'temp' ? dirs.temp : type === 'input' ? dirs.input : undefined;
  if (!dir) return done(400);
  const subfolder = query.get('subfolder');
  if (subfolder !== null) {
    // os.path.join drops the base for an absolute subfolder; commonpath then differs: 403
    const full = path.resolve(dir, subfolder);
    if (full !== dir && !full.startsWith(dir + path.sep)) return done(403);
    dir = full;
  }
  const filename = path.basename(raw);
  const file = path.join(dir, filename);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return done(404);
  let contentType = MIME[path.extname(filename).toLowerCase()] ?? 'application/octet-stream';
  if (['text/html', 'application/xhtml+xml', 'text/javascript', 'text/css'].includes(contentType)) {
    contentType = 'application/octet-stream'; // forced download, as ComfyUI does
  }
  res.writeHead(200, {
    'Content-Type': contentType,
    'Content-Length': info.size,
    'Content-Disposition': `filename="${filename}"`,
  });
  createReadStream(file).pipe(res);
}
