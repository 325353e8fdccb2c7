import { z } from 'zod';
import { httpUrl, optionalText, stated } from '../env-rules.js';
import { KEY_FIELDS } from './object-key.js';
import type { S3Connection } from './s3-client.js';

/** Where S3 is, for outputs and s3:// / gs:// inputs alike. */
export const s3Env = {
  COMFYUI_S3_ENDPOINT: stated(httpUrl('https://<account>.r2.cloudflarestorage.com').optional(), 'an `http://` or `https://` URL'),
  COMFYUI_S3_REGION: stated(optionalText, 'any text'),
};

export const s3Connection = (e: z.infer<z.ZodObject<typeof s3Env>>): S3Connection => ({ endpoint: e.COMFYUI_S3_ENDPOINT, region: e.COMFYUI_S3_REGION });

/** The environment variables of output storage, merged into lib/config.ts' schema. */
export const outputStoreEnv = {
  COMFYUI_OUTPUT_STORE: stated(
    z
      .string()
      .trim()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'expects s3://bucket/prefix/ (a bucket name, then an optional key prefix)')
      .optional(),
    '`s3://bucket/prefix/`',
  ),
  COMFYUI_OUTPUT_STORE_KEY: stated(z
    .string()
    .trim()
    .default('{wfRunId}/{taskGuid}/{file}')
    .refine((template) => /\{(file|filename)\}/.test(template), 'must contain {file} or {filename}, or two outputs would share one key')
    .refine(
      (template) => [...template.matchAll(/\{([^}]*)\}/g)].every((m) => (KEY_FIELDS as readonly string[]).includes(m[1]!)),
      `knows only ${KEY_FIELDS.map((f) => `{${f}}`).join(', ')}`,
    ), 'a key template holding `{file}` or `{filename}`'),
  COMFYUI_OUTPUT_STORE_PRESIGN_SEC: stated(z
    .string()
    .trim()
    .regex(/^\d+$/, 'expects a whole number of seconds')
    .transform(Number)
    // SigV4 presigned URLs live at most 7 days.
    .refine((sec) => sec > 0 && sec <= 604_800, 'expects 1 to 604800 seconds (7 days, the longest S3 allows)')
    .optional(), 'whole seconds, 1–604800'),
};

type OutputStoreEnv = z.infer<z.ZodObject<typeof outputStoreEnv>>;

export interface OutputStoreConfig {
  bucket: string;
  /** Key prefix, '' or ending in '/'. */
  prefix: string;
  keyTemplate: string;
  presignSec: number | undefined;
}

/** Undefined when outputs are not stored (COMFYUI_OUTPUT_STORE unset). */
export function outputStoreConfig(e: OutputStoreEnv): OutputStoreConfig | undefined {
  if (!e.COMFYUI_OUTPUT_STORE) return undefined;
  const [bucket = '', ...rest] = e.COMFYUI_OUTPUT_STORE.slice('s3://'.length).split('/');
  const prefix = rest.join('/').replace(/^\/+/, '');
  return {
    bucket,
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
    keyTemplate: e.COMFYUI_OUTPUT_STORE_KEY,
    presignSec: e.COMFYUI_OUTPUT_STORE_PRESIGN_SEC,
  };
}
