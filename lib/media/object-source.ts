import { FailureError, unavailable } from '../../functions/execute-comfyui-workflow/failure.js';
import { describeS3Error, type LazyS3, type S3Connection } from '../storage/s3-client.js';
import { describeSource, type FetchObject, invalidInput } from './fetch-source.js';

const NOT_THERE = new Set(['NoSuchKey', 'NoSuchBucket', 'NotFound', 'AccessDenied', 'Forbidden', 'InvalidObjectState']);

/**
 * s3://bucket/key and gs://bucket/key through the worker's S3 client: gs:// only with an endpoint
 * (Google Cloud Storage's XML API, https://storage.googleapis.com, with an HMAC key).
 */
export function objectFetcher(s3: LazyS3, connection: S3Connection): FetchObject {
  return async (url, config, signal) => {
    const where = describeSource(url.href);
    if (url.protocol === 'gs:' && !connection.endpoint) {
      throw invalidInput(`Input ${where}: gs:// sources need COMFYUI_S3_ENDPOINT=https://storage.googleapis.com (and an HMAC key as AWS credentials)`, { source: where });
    }
    const bucket = url.hostname;
    const key = decodeURIComponent(url.pathname.replace(/^\//, ''));
    try {
      const { sdk, client } = await s3.get();
      const reply = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      if ((reply.ContentLength ?? 0) > config.maxBytes) {
        reply.Body?.transformToWebStream().cancel().catch(() => undefined);
        throw invalidInput(`Input ${where} is larger than COMFYUI_INPUT_MAX_BYTES (${reply.ContentLength} > ${config.maxBytes} bytes)`, { source: where });
      }
      const data = Buffer.from((await reply.Body?.transformToByteArray()) ?? []);
      return { data, contentType: reply.ContentType?.split(';')[0]?.trim(), name: key.split('/').pop() || undefined };
    } catch (error) {
      if (error instanceof FailureError) throw error;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (NOT_THERE.has((error as Error).name) || status === 404 || status === 403) {
        throw invalidInput(`Input ${where} cannot be read: ${describeS3Error(error)}`, { source: where, status });
      }
      throw new FailureError(unavailable(`Input ${where} could not be fetched: ${describeS3Error(error)}`, { source: where }));
    }
  };
}
