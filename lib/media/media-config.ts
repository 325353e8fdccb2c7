import { z } from 'zod';

/** The environment variables of media inputs, merged into lib/config.ts' schema. */
export const mediaInputEnv = {
  // ComfyUI's own default upload limit (--max-upload-size, 100 MB).
  COMFYUI_INPUT_MAX_BYTES: z.string().trim().regex(/^\d+$/, 'expects a number of bytes').default(String(100 * 1024 * 1024)).transform(Number),
  COMFYUI_INPUT_TIMEOUT_SEC: z.string().trim().regex(/^\d+$/, 'expects a whole number of seconds').default('60').transform(Number),
  COMFYUI_INPUT_ALLOW_PRIVATE: z.stringbool({ error: 'expects true or false' }).default(false),
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
