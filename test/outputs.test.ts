import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectOutputs } from '../functions/execute-comfyui-workflow/outputs.js';

const options = { outputDir: '/data/out', includeTemp: false };

describe('collecting outputs from a history entry', () => {
  it('returns every file kind with its absolute path, whatever the key', () => {
    const result = collectOutputs(
      {
        '9': { images: [{ filename: 'a.png', subfolder: '', type: 'output' }] },
        '10': { images: [{ filename: 'b.webp', subfolder: 'anim', type: 'output' }], animated: [true] },
        '11': { audio: [{ filename: 'c.flac', subfolder: 'audio', type: 'output' }] },
        '12': { gifs: [{ filename: 'd.mp4', subfolder: '', type: 'output', format: 'video/h264-mp4', fullpath: '/elsewhere/d.mp4' }] },
        '13': { meshes: [{ filename: 'e.glb', subfolder: '3d', type: 'output' }] },
      },
      options,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.outputs.files.map((f) => [f.node_id, f.kind, f.path])).toEqual([
      ['9', 'images', path.resolve('/data/out/a.png')],
      ['10', 'images', path.resolve('/data/out/anim/b.webp')],
      ['11', 'audio', path.resolve('/data/out/audio/c.flac')],
      ['12', 'gifs', path.resolve('/data/out/d.mp4')],
      ['13', 'meshes', path.resolve('/data/out/3d/e.glb')],
    ]);
    expect(result.outputs.files[1]?.animated).toBe(true);
    expect(result.outputs.files[3]?.format).toBe('video/h264-mp4');
  });

  it('keeps non-file outputs such as text as data', () => {
    const result = collectOutputs({ '5': { text: ['hello'] } }, options);
    expect(result.ok && result.outputs.data).toEqual([{ node_id: '5', kind: 'text', value: ['hello'] }]);
  });

  it('leaves preview (temp) files out unless asked for', () => {
    const outputs = { '7': { images: [{ filename: 'p.png', subfolder: '', type: 'temp' }] } };
    expect(collectOutputs(outputs, options).ok && (collectOutputs(outputs, options) as { outputs: { files: unknown[] } }).outputs.files).toEqual([]);
    const withTemp = collectOutputs(outputs, { ...options, includeTemp: true });
    expect(withTemp.ok && withTemp.outputs.files[0]).toMatchObject({ type: 'temp', path: null });
  });

  it.each([
    ['a filename that climbs out', '../escape.png', ''],
    ['a filename with a separator', 'x/../../etc/passwd', ''],
    ['an absolute subfolder', 'a.png', '/etc'],
    ['a subfolder that climbs out', 'a.png', 'ok/../../..'],
    ['a Windows drive subfolder', 'a.png', 'C:\\Windows'],
  ])('rejects %s instead of joining it', (_label, filename, subfolder) => {
    const result = collectOutputs({ '9': { images: [{ filename, subfolder, type: 'output' }] } }, options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toMatchObject({ kind: 'execution', name: 'comfyui-unsafe-output' });
  });
});
