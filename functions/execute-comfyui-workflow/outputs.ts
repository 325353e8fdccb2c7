import path from 'node:path';
import type { Failure } from './failure.js';

/** One file a node produced, where the worker can find it. */
export interface OutputFile {
  node_id: string;
  /** The history key it came under: images, gifs, audio, 3d, video, or a custom node's own key. */
  kind: string;
  filename: string;
  subfolder: string;
  /** ComfyUI's folder type: output, or temp for previews. */
  type: string;
  /** Absolute path under COMFYUI_OUTPUT_DIR; null for a file only ComfyUI's host has (a preview not downloaded). */
  path: string | null;
  animated?: boolean;
  format?: string;
  /** Set when the output was stored in object storage (COMFYUI_OUTPUT_STORE). */
  uri?: string;
  size?: number;
  sha256?: string;
  content_type?: string;
  presigned_url?: string;
}

/** A non-file output a node recorded (e.g. text from PreviewAny), kept as data. */
export interface OutputData {
  node_id: string;
  kind: string;
  value: unknown;
}

export interface CollectedOutputs {
  files: OutputFile[];
  data: OutputData[];
}

export interface OutputOptions {
  outputDir: string;
  includeTemp: boolean;
}

type FileEntry = { filename: string; subfolder?: unknown; type?: unknown; format?: unknown };

const isFileEntry = (item: unknown): item is FileEntry =>
  typeof item === 'object' && item !== null && typeof (item as { filename?: unknown }).filename === 'string';

/**
 * Every output recorded in a history entry (history.outputs: node id → the node's `ui` dict).
 * Any key whose items look like file entries is files, whatever the key (custom nodes add their
 * own); everything else is data. A name that would escape the output folder fails the task.
 */
export function collectOutputs(
  outputs: Record<string, Record<string, unknown>>,
  options: OutputOptions,
): { ok: true; outputs: CollectedOutputs } | { ok: false; failure: Failure } {
  const files: OutputFile[] = [];
  const data: OutputData[] = [];
  for (const [nodeId, ui] of Object.entries(outputs)) {
    const animated = Array.isArray(ui.animated) ? ui.animated : [];
    for (const [kind, value] of Object.entries(ui)) {
      if (kind === 'animated') continue;
      const items = Array.isArray(value) ? value : [];
      if (items.length === 0 || !items.every(isFileEntry)) {
        data.push({ node_id: nodeId, kind, value });
        continue;
      }
      for (const [index, item] of items.entries()) {
        const type = typeof item.type === 'string' ? item.type : 'output';
        if (type === 'temp' && !options.includeTemp) continue;
        const subfolder = typeof item.subfolder === 'string' ? item.subfolder : '';
        const problem = unsafeName(item.filename, subfolder);
        if (problem) return { ok: false, failure: unsafeOutput(nodeId, item.filename, subfolder, problem) };
        const destination = localPath(options.outputDir, { type, subfolder, filename: item.filename });
        if (destination === undefined) {
          return { ok: false, failure: unsafeOutput(nodeId, item.filename, subfolder, 'the path resolves outside the output folder') };
        }
        const file: OutputFile = {
          node_id: nodeId,
          kind,
          filename: item.filename,
          subfolder,
          type,
          path: type === 'output' ? destination : null,
        };
        if (animated[index] === true) file.animated = true;
        if (typeof item.format === 'string') file.format = item.format;
        files.push(file);
      }
    }
  }
  return { ok: true, outputs: { files, data } };
}

/**
 * Where a file lives (or is downloaded to) under the output folder: previews go under temp/.
 * Undefined when the joined path would leave the folder (defence in depth: unsafeName refuses
 * every such name first).
 */
export function localPath(outputDir: string, file: Pick<OutputFile, 'type' | 'subfolder' | 'filename'>): string | undefined {
  const root = path.resolve(outputDir);
  const base = file.type === 'output' ? root : path.join(root, file.type);
  const joined = path.resolve(base, file.subfolder, file.filename);
  const relative = path.relative(root, joined);
  // The first segment, not the first characters: `..hidden.png` and `..cache/` are legitimate names.
  const climbsOut = relative.split(path.sep)[0] === '..' || path.isAbsolute(relative);
  return climbsOut ? undefined : joined;
}

function unsafeName(filename: string, subfolder: string): string | undefined {
  if (filename === '' || filename === '.' || filename === '..') return 'the filename is empty or a dot name';
  if (/[\\/]/.test(filename)) return 'the filename contains a path separator';
  if (filename.includes('\0') || subfolder.includes('\0')) return 'the name contains a NUL byte';
  if (path.isAbsolute(subfolder) || /^[A-Za-z]:/.test(subfolder) || subfolder.startsWith('\\')) {
    return 'the subfolder is an absolute path';
  }
  if (subfolder.split(/[\\/]+/).includes('..')) return 'the subfolder climbs out with ".."';
  return undefined;
}

export function unsafeOutput(nodeId: string, filename: string, subfolder: string, problem: string): Failure {
  return {
    kind: 'execution',
    name: 'comfyui-unsafe-output',
    message: `Node ${nodeId} recorded an output that would escape the output folder (${problem}): subfolder ${JSON.stringify(subfolder)}, filename ${JSON.stringify(filename)}. It was not used.`,
    details: { node_id: nodeId, filename, subfolder, problem },
  };
}
