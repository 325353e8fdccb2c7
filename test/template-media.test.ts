import { describe, expect, it } from 'vitest';
import { mediaTypeOf, sniffContentType } from '../functions/execute-comfyui-workflow/media-type.js';
import { prepareTemplateTask } from '../functions/templates/execute.js';
import { checkInputs, type TaskValue } from '../functions/templates/inputs.js';
import { parseTemplate, type Template } from '../functions/templates/template.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are edited freely, field by field
type Fixture = any;

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1');
const WEBP = Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1');
const WAV = Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1');
const MP4 = Buffer.from('\x00\x00\x00\x18ftypisom\x00\x00\x02\x00', 'latin1');
const TEXT = Buffer.from('not an image at all');

/** Image to image: a loader whose file comes as BYTES, a prompt beside it. */
function templateText(edit: (t: Fixture) => void = () => {}): string {
  const t: Fixture = {
    inputs: {
      image: { type: 'BYTES', media: 'image', targets: ['10.inputs.image'] },
      prompt: { type: 'STR', targets: ['6.inputs.text'] },
    },
    outputs: { images: { node: '9' } },
    workflow: {
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'x', clip: ['4', 1] } },
      '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'out', images: ['10', 0] } },
      '10': { class_type: 'LoadImage', inputs: { image: 'example.png' } },
    },
  };
  edit(t);
  return JSON.stringify(t);
}

function parsed(text = templateText()): Template {
  const result = parseTemplate('templates/sample.json', text);
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.template;
}
const problems = (text: string) => {
  const result = parseTemplate('templates/sample.json', text);
  return result.ok ? [] : result.problems;
};

const bytes = (value: Uint8Array): TaskValue => ({ type: 'BYTES', value });
const str = (value: string): TaskValue => ({ type: 'STR', value });

describe('declaring a media input in a template', () => {
  it('reads a BYTES input with its media kind as a file for the loader', () => {
    const input = parsed().inputs[0]!;
    expect(input).toMatchObject({ name: 'image', type: 'BYTES', media: 'image', targets: [{ nodeId: '10', input: 'image' }] });
  });

  it('refuses a BYTES input without a media kind, naming the kinds', () => {
    expect(problems(templateText((t) => delete t.inputs.image.media))).toEqual([
      'templates/sample.json: inputs.image.media is required for a BYTES input: "image", "audio" or "video", the kind of file its loader reads',
    ]);
  });

  it('refuses an unknown media kind, naming the kinds', () => {
    expect(problems(templateText((t) => (t.inputs.image.media = 'picture')))).toEqual([
      'templates/sample.json: inputs.image.media expects one of image, audio, video: the kind of file the loader reads',
    ]);
  });

  it('refuses a media kind on an INT input', () => {
    const text = templateText((t) => {
      t.workflow['3'] = { class_type: 'KSampler', inputs: { steps: 20 } };
      t.inputs.steps = { type: 'INT', media: 'image', targets: ['3.inputs.steps'] };
    });
    expect(problems(text)).toEqual(['templates/sample.json: inputs.steps.media applies only to BYTES inputs (the file\'s bytes) and STR inputs (a URL, s3://, gs:// or data: URI)']);
  });

  it('refuses a BYTES input aimed at a target that holds a number', () => {
    const text = templateText((t) => {
      t.workflow['3'] = { class_type: 'KSampler', inputs: { steps: 20 } };
      t.inputs.image.targets = ['3.inputs.steps'];
    });
    expect(problems(text)).toEqual([expect.stringContaining('type mismatch: the input is BYTES but the graph holds a whole number (20)')]);
  });
});

describe('checking a media input of a task', () => {
  it.each([
    ['PNG', PNG, 'image/png'],
    ['JPEG', JPEG, 'image/jpeg'],
    ['WEBP', WEBP, 'image/webp'],
    ['GIF', GIF, 'image/gif'],
  ])('takes a %s image passed as BYTES, typed by its bytes, to upload under the input\'s name', (_label, data, contentType) => {
    const result = checkInputs(parsed(), { image: bytes(data), prompt: str('a cat') }, 'wf/1');
    expect(result.ok && result.inputs).toEqual({ values: { prompt: 'a cat' }, media: { image: { data, contentType, name: 'image' } }, seeds: {} });
  });

  it('refuses BYTES that are not an image as comfyui-invalid-input naming the input, with its first bytes', () => {
    const result = checkInputs(parsed(), { image: bytes(TEXT), prompt: str('a cat') }, 'wf/1');
    if (result.ok) throw new Error('expected a failure');
    expect(result.failure).toMatchObject({ kind: 'validation', name: 'comfyui-invalid-input' });
    expect(result.failure.message).toBe(
      'Template sample: input "image" is of a type its bytes do not show, not a PNG, JPEG, WEBP or GIF image (it begins 6e 6f 74 20 61 6e 20 69 …).',
    );
    expect(result.failure.details).toMatchObject({ problems: [{ input: 'image', rule: 'media' }] });
  });

  it('refuses a WAV file for an image input, saying what it is', () => {
    const result = checkInputs(parsed(), { image: bytes(WAV), prompt: str('a cat') }, 'wf/1');
    expect(!result.ok && result.failure.message).toContain('input "image" is audio/wav, not a PNG, JPEG, WEBP or GIF image');
  });

  it('refuses a STR for a BYTES input', () => {
    const result = checkInputs(parsed(), { image: str('https://example.com/cat.png'), prompt: str('a cat') }, 'wf/1');
    expect(!result.ok && result.failure.message).toContain('input "image" expects BYTES');
  });

  it('takes a URI in a STR media input as a file to fetch, and a plain name as a file already in ComfyUI', () => {
    const template = parsed(templateText((t) => (t.inputs.image.type = 'STR')));
    const uri = checkInputs(template, { image: str('s3://bucket/cat.png'), prompt: str('a cat') }, 'wf/1');
    expect(uri.ok && uri.inputs.media).toEqual({ image: 's3://bucket/cat.png' });
    const name = checkInputs(template, { image: str('cat.png'), prompt: str('a cat') }, 'wf/1');
    expect(name.ok && name.inputs).toMatchObject({ values: { image: 'cat.png' }, media: {} });
  });

  it('takes a BYTES input\'s default, a file name, into the graph when the task passes NULL', () => {
    const template = parsed(templateText((t) => (t.inputs.image.default = 'example.png')));
    const result = checkInputs(template, { prompt: str('a cat') }, 'wf/1');
    expect(result.ok && result.inputs).toMatchObject({ values: { image: 'example.png' }, media: {} });
  });

  it('leaves the loader\'s value to the upload: the prepared graph holds the template\'s own until then', () => {
    const prepared = prepareTemplateTask(parsed(), { image: bytes(PNG), prompt: str('a cat') }, 'wf/1');
    if (!prepared.ok) throw new Error(prepared.failure.message);
    expect(prepared.task.workflow['10']!.inputs.image).toBe('example.png');
    expect(prepared.task.workflow['6']!.inputs.text).toBe('a cat');
    expect(Object.keys(prepared.task.media)).toEqual(['image']);
  });
});

describe('reading a file\'s type from its bytes', () => {
  it('knows the web image formats, WAV and MP4, and nothing in plain text', () => {
    expect([PNG, JPEG, WEBP, GIF, WAV, MP4, TEXT].map((data) => sniffContentType(data))).toEqual([
      'image/png',
      'image/jpeg',
      'image/webp',
      'image/gif',
      'audio/wav',
      'video/mp4',
      undefined,
    ]);
  });

  it('takes audio or video of a format it does not know by the type its source declared, never an image', () => {
    const unknown = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(mediaTypeOf(unknown, 'audio', 'audio/aac')).toEqual({ ok: true, contentType: 'audio/aac' });
    expect(mediaTypeOf(unknown, 'video')).toEqual({ ok: false, problem: 'is of a type its bytes do not show, not a video' });
    expect(mediaTypeOf(unknown, 'image', 'image/png').ok).toBe(false);
    expect(mediaTypeOf(WAV, 'video')).toEqual({ ok: false, problem: 'is audio/wav, not a video' });
  });

  it('takes an MP4 for an audio input as audio: the container carries sound alone too', () => {
    expect(mediaTypeOf(MP4, 'audio')).toEqual({ ok: true, contentType: 'audio/mp4' });
  });
});
