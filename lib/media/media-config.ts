import type { z } from 'zod';
import { count, flag, seconds } from '../env-rules.js';

/** The environment variables of media inputs, merged into lib/config.ts' schema. */
export const mediaInputEnv = {
  // ComfyUI's own default upload limit (--max-upload-size, 100 MB).
  COMFYUI_INPUT_MAX_BYTES: count(100 * 1024 * 1024, 1, 'bytes'),
  COMFYUI_INPUT_TIMEOUT_SEC: seconds(60, 1),
  COMFYUI_INPUT_ALLOW_PRIVATE: flag(false),
};

type MediaInputEnv = z.infer<z.ZodObject<typeof mediaInputEnv>>;

export interface MediaInputConfig {
  maxBytes: number;
  timeoutMs: number;
  /** Follow URLs to loopback, private and link-local addresses (off: no SSRF into the worker's network). */
  allowPrivate: boolean;
}

export const mediaInputConfig = (e: MediaInputEnv): MediaInputConfig => ({
  maxBytes: e.COMFYUI_INPUT_MAX_BYTES,
  timeoutMs: e.COMFYUI_INPUT_TIMEOUT_SEC * 1000,
  allowPrivate: e.COMFYUI_INPUT_ALLOW_PRIVATE,
});
