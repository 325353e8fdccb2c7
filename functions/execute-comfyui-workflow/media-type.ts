import type { MediaKind } from './ports.js';

/** The image formats a LoadImage input is accepted in (Pillow reads more, but these are what the web sends). */
const IMAGE_TYPES: Record<string, string> = { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/webp': 'WEBP', 'image/gif': 'GIF' };
const IMAGE_NAMES = 'a PNG, JPEG, WEBP or GIF image';
/** Containers that carry sound alone as well as video: their bytes do not say which. */
const EITHER: Record<string, string> = { 'video/mp4': 'audio/mp4', 'video/webm': 'audio/webm', 'audio/ogg': 'video/ogg' };

const ascii = (data: Uint8Array, offset: number, text: string) =>
  data.length >= offset + text.length && [...text].every((char, i) => data[offset + i] === char.charCodeAt(0));
const starts = (data: Uint8Array, bytes: number[]) => data.length >= bytes.length && bytes.every((byte, i) => data[i] === byte);

/**
 * The content type a file's first bytes say it is (its magic number), whatever its name or its
 * server claim; undefined for a format ComfyUI's loaders are not expected to read.
 */
export function sniffContentType(data: Uint8Array): string | undefined {
  if (starts(data, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts(data, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (ascii(data, 0, 'GIF87a') || ascii(data, 0, 'GIF89a')) return 'image/gif';
  if (ascii(data, 0, 'RIFF')) {
    if (ascii(data, 8, 'WEBP')) return 'image/webp';
    if (ascii(data, 8, 'WAVE')) return 'audio/wav';
    if (ascii(data, 8, 'AVI ')) return 'video/x-msvideo';
    return undefined;
  }
  if (ascii(data, 0, 'fLaC')) return 'audio/flac';
  if (ascii(data, 0, 'OggS')) return 'audio/ogg';
  // ID3 tag, or an MPEG audio frame's 11-bit sync (JPEG's FF D8 does not match it).
  if (ascii(data, 0, 'ID3') || (data[0] === 0xff && data.length > 1 && (data[1]! & 0xe0) === 0xe0)) return 'audio/mpeg';
  // ISO base media (MP4, MOV, M4A): a box of type "ftyp" first, its major brand after it.
  if (ascii(data, 4, 'ftyp')) return ascii(data, 8, 'M4A') ? 'audio/mp4' : ascii(data, 8, 'qt  ') ? 'video/quicktime' : 'video/mp4';
  if (starts(data, [0x1a, 0x45, 0xdf, 0xa3])) return 'video/webm'; // EBML: WebM, Matroska
  return undefined;
}

export type MediaType = { ok: true; contentType: string } | { ok: false; problem: string };

/**
 * What to upload a file as for a loader of this kind: the type its bytes show. An image must be one
 * of the four web formats whatever it claims; audio or video whose format is not recognised falls
 * back to the type its source declared, if that is of the right family.
 */
export function mediaTypeOf(data: Uint8Array, media: MediaKind, declared?: string): MediaType {
  const sniffed = sniffContentType(data);
  if (media === 'image') {
    if (sniffed && IMAGE_TYPES[sniffed]) return { ok: true, contentType: sniffed };
    return { ok: false, problem: `${claimed(declared, sniffed)}, not ${IMAGE_NAMES}${sniffed ? '' : ` (${firstBytes(data)})`}` };
  }
  if (sniffed?.startsWith(`${media}/`)) return { ok: true, contentType: sniffed };
  if (sniffed && EITHER[sniffed]?.startsWith(`${media}/`)) return { ok: true, contentType: EITHER[sniffed] };
  if (!sniffed && declared?.startsWith(`${media}/`)) return { ok: true, contentType: declared };
  return { ok: false, problem: `${claimed(declared, sniffed)}, not ${media === 'audio' ? 'an audio file' : 'a video'}` };
}

const claimed = (declared: string | undefined, sniffed: string | undefined) =>
  sniffed ? `is ${sniffed}` : declared ? `is ${declared}` : 'is of a type its bytes do not show';

const firstBytes = (data: Uint8Array) =>
  data.length === 0 ? 'it is empty' : `it begins ${[...data.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}${data.length > 8 ? ' …' : ''}`;
