import type { S3Client } from '@aws-sdk/client-s3';

/** Where S3 is: AWS by default, or an S3-compatible endpoint (R2, MinIO, GCS's XML API). */
export interface S3Connection {
  endpoint: string | undefined;
  region: string | undefined;
}

export interface S3Handle {
  sdk: typeof import('./s3-sdk.js');
  client: S3Client;
}

export interface LazyS3 {
  get(): Promise<S3Handle>;
  close(): void;
}

/**
 * One S3 client, created on first use with the SDK's default credential chain (ECS task role,
 * environment, profile), so a worker that never touches S3 never loads the SDK.
 */
export function lazyS3(connection: S3Connection): LazyS3 {
  let handle: Promise<S3Handle> | undefined;
  return {
    get: () =>
      (handle ??= import('./s3-sdk.js').then((sdk) => ({
        sdk,
        client: new sdk.S3Client({
          ...(connection.region ? { region: connection.region } : {}),
          ...(connection.endpoint
            ? {
                endpoint: connection.endpoint,
                forcePathStyle: true,
                // R2, MinIO, GCS and older servers mishandle the SDK's default CRC32 headers on streamed uploads.
                requestChecksumCalculation: 'WHEN_REQUIRED' as const,
                responseChecksumValidation: 'WHEN_REQUIRED' as const,
              }
            : {}),
        }),
      }))),
    close: () => void handle?.then(({ client }) => client.destroy(), () => undefined),
  };
}

/** An SDK error's name and status; the message alone is often just "UnknownError". */
export function describeS3Error(error: unknown): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return [e.name, e.message, status ? `HTTP ${status}` : undefined].filter(Boolean).join(': ');
}
