// Output nodes write small real files and return their `ui` dict, as the real nodes do.
// Naming follows folder_paths.get_save_image_path (prefix may carry a subfolder; the counter is
// one past the highest existing `<prefix>_NNNNN_` file) and each node's own file pattern.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { OutputKind } from './nodes.js';
import { PyError, type JsonObject } from './types.js';

export interface OutputDirs {
  output: string;
  temp: string;
  input: string;
}

// A valid 1x1 PNG; other formats get their magic bytes and a little padding.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
const stub = (magic: string): Buffer => Buffer.concat([Buffer.from(magic, 'latin1'), Buffer.alloc(16)]);
const CONTENT: Record<string, Buffer> = {
  png: PNG,
  webp: stub('RIFF\x1c\x00\x00\x00WEBPVP8L'),
  flac: stub('fLaC'),
  mp4: stub('\x00\x00\x00\x18ftypmp42'),
  gif: stub('GIF89a'),
  glb: stub('glTF\x02\x00\x00\x00'),
  obj: Buffer.from('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n'),
};

const DEFAULT_PREFIX: Partial<Record<OutputKind, string>> = {
  image: 'ComfyUI',
  webp: 'ComfyUI',
  audio: 'audio/ComfyUI',
  video: 'video/ComfyUI',
  glb: 'mesh/ComfyUI',
  vhs: 'AnimateDiff',
  custom: 'custom/mesh',
};

const pad5 = (n: number): string => String(n).padStart(5, '0');
const inside = (dir: string, p: string): boolean => p === dir || p.startsWith(dir + path.sep);
const pyInt = (s: string): number => (/^\s*[+-]?\d+\s*$/.test(s) ? parseInt(s, 10) : 0);

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    await mkdir(dir, { recursive: true });
    return [];
  }
}

/** folder_paths.get_save_image_path: throws like ComfyUI when the prefix escapes the folder. */
export async function saveImagePath(prefix: string, baseDir: string) {
  const norm = path.normalize(prefix);
  const dirname = path.dirname(norm);
  const subfolder = dirname === '.' ? '' : dirname;
  const filename = path.basename(norm);
  const folder = path.resolve(baseDir, subfolder);
  if (!inside(baseDir, folder)) {
    throw new PyError(
      'Exception',
      `**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: ${folder}\n         output_dir: ${baseDir}`,
    );
  }
  const prefixLen = path.basename(prefix).length;
  let counter = 1;
  for (const name of await listDir(folder)) {
    const head = name.slice(0, prefixLen + 1);
    if (head.slice(0, -1) !== filename || !head.endsWith('_')) continue;
    counter = Math.max(counter, pyInt(name.slice(prefixLen + 1).split('_')[0] ?? '') + 1);
  }
  return { folder, filename, counter, subfolder };
}

const randomLetters = (n: number): string =>
  // nodes.py PreviewImage draws from this exact alphabet (sic: 'p' twice, no 'w')
  Array.from({ length: n }, () => 'abcdefghijklmnopqrstupvxyz'[Math.floor(Math.random() * 26)]).join('');

export interface WriteRequest {
  kind: OutputKind;
  nodeId: string;
  inputs: JsonObject;
  hostile: boolean;
}

/** Runs the "save" part of an output node. Returns its `ui` dict. */
export async function writeOutputs(dirs: OutputDirs, req: WriteRequest): Promise<JsonObject> {
  const { kind, inputs } = req;
  const given = inputs.filename_prefix;
  const prefix = typeof given === 'string' ? given : (DEFAULT_PREFIX[kind] ?? 'ComfyUI');

  const save = async (base: string, type: string, ext: string, pfx = prefix) => {
    const p = await saveImagePath(pfx, base);
    const filename = `${p.filename.replaceAll('%batch_num%', '0')}_${pad5(p.counter)}_.${ext}`;
    await writeFile(path.join(p.folder, filename), CONTENT[ext] ?? PNG);
    return { filename, subfolder: p.subfolder, type };
  };

  let ui: JsonObject;
  switch (kind) {
    case 'image':
      ui = { images: [await save(dirs.output, 'output', 'png')] };
      break;
    case 'preview':
      ui = { images: [await save(dirs.temp, 'temp', 'png', `ComfyUI_temp_${randomLetters(5)}`)] };
      break;
    case 'webp':
      ui = { images: [await save(dirs.output, 'output', 'webp')], animated: [true] };
      break;
    case 'audio':
      ui = { audio: [await save(dirs.output, 'output', 'flac')] };
      break;
    case 'video': // comfy_api ui.PreviewVideo: images + animated
      ui = { images: [await save(dirs.output, 'output', 'mp4')], animated: [true] };
      break;
    case 'glb':
      ui = { '3d': [await save(dirs.output, 'output', 'glb')] };
      break;
    case 'text': {
      const src = inputs.source;
      ui = { text: [Array.isArray(src) ? `fake value from node ${String(src[0])}` : typeof src === 'string' ? src : JSON.stringify(src)] };
      break;
    }
    case 'custom':
      ui = { meshes: [await save(dirs.output, 'output', 'obj')], vertex_count: [3] };
      break;
    case 'vhs':
      ui = { gifs: [await saveVhs(dirs, inputs, prefix)] };
      break;
  }
  return req.hostile ? makeHostile(ui, dirs.output) : ui;
}

/** VideoHelperSuite names files `<prefix>_NNNNN.<ext>` (no trailing underscore) plus a workflow PNG. */
async function saveVhs(dirs: OutputDirs, inputs: JsonObject, prefix: string): Promise<JsonObject> {
  const saveOutput = inputs.save_output !== false;
  const base = saveOutput ? dirs.output : dirs.temp;
  const p = await saveImagePath(prefix, base);
  const format = typeof inputs.format === 'string' ? inputs.format : 'image/gif';
  const sub = format.split('/')[1] ?? 'gif'; // 'image/gif', 'video/h264-mp4', 'video/webm'
  const ext = sub.split('-').pop() ?? sub;
  const pattern = new RegExp(`^${p.filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_(\\d+)\\D*\\..+$`, 'i');
  let max = 0;
  for (const name of await listDir(p.folder)) max = Math.max(max, Number(pattern.exec(name)?.[1] ?? 0));
  const stem = `${p.filename}_${pad5(max + 1)}`;
  await writeFile(path.join(p.folder, `${stem}.png`), PNG);
  await writeFile(path.join(p.folder, `${stem}.${ext}`), CONTENT[ext] ?? CONTENT.mp4 ?? PNG);
  return {
    filename: `${stem}.${ext}`,
    subfolder: p.subfolder,
    type: saveOutput ? 'output' : 'temp',
    format,
    frame_rate: typeof inputs.frame_rate === 'number' ? inputs.frame_rate : 8,
    workflow: `${stem}.png`,
    fullpath: path.join(p.folder, `${stem}.${ext}`),
  };
}

const isFileEntry = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && typeof (v as JsonObject).filename === 'string';

/** hostileFilenames: each file entry becomes two, one with '../escape.png', one with an absolute subfolder. */
function makeHostile(ui: JsonObject, outputDir: string): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(ui)) {
    if (!Array.isArray(value) || !value.every(isFileEntry)) {
      out[key] = value;
      continue;
    }
    out[key] = value.flatMap((e) => [
      { ...e, filename: '../escape.png', ...('fullpath' in e ? { fullpath: '/etc/passwd' } : {}) },
      { ...e, subfolder: path.dirname(outputDir), ...('fullpath' in e ? { fullpath: '/etc/passwd' } : {}) },
    ]);
  }
  return out;
}
