import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { FailureError, unavailable } from '../../functions/execute-comfyui-workflow/failure.js';
import type { StoredOutput, StoreOutput } from '../../functions/execute-comfyui-workflow/ports.js';
import { contentTypeOf } from './content-type.js';
import { objectKey } from './object-key.js';
import type { OpenOutput, OutputBytes } from './output-source.js';
import { describeS3Error, type LazyS3, type S3Handle } from './s3-client.js';
import type { OutputStoreConfig } from './store-config.js';

/** Whose outputs these are: the TaskRun's WfRun chain (joined by "_") and task guid, the same on every attempt. */
export interface TaskKeys {
  wfRunId: string;
  taskGuid: string;
}

export interface OutputStore {
  forTask(task: TaskKeys): StoreOutput;
}

/** lib-storage's smallest part, which S3 requires of every part but the last: files above it go multipart. */
const PART_SIZE = 5 * 1024 * 1024;
const PARALLEL_PARTS = 4;

/**
 * Uploads outputs to S3 or an S3-compatible store with the official SDK (lib-storage: multipart
 * above one part), on the worker's one lazily created S3 client.
 */
export function s3OutputStore(config: OutputStoreConfig, s3: LazyS3, open: OpenOutput): OutputStore {
  return {
    forTask: (task) => async (file, signal) => {
      const type = file.type === 'output' ? '' : file.type;
      const key = objectKey(config.prefix, config.keyTemplate, {
        ...task,
        nodeId: file.node_id,
        type: file.type,
        subfolder: file.subfolder,
        filename: file.filename,
        file: [type, file.subfolder, file.filename].filter(Boolean).join('/'),
      });
      const uri = `s3://${config.bucket}/${key}`;
      try {
        return await upload(await s3.get(), config, { key, uri, file: await open(file, signal), contentType: contentTypeOf(file.filename) }, signal);
      } catch (error) {
        if (error instanceof FailureError || signal.aborted) throw error;
        throw new FailureError(unavailable(`Storing output ${file.filename} at ${uri} failed: ${describeS3Error(error)}`, { uri }));
      }
    },
  };
}

async function upload(
  { sdk, client }: S3Handle,
  config: OutputStoreConfig,
  target: { key: string; uri: string; file: OutputBytes; contentType: string },
  signal: AbortSignal,
): Promise<StoredOutput> {
  const { key, uri, file, contentType } = target;
  const hash = createHash('sha256');
  let size = 0;
  const measured = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  file.body.on('error', (error: Error) => measured.destroy(error));
  file.body.pipe(measured);
  const uploading = new sdk.Upload({
    client,
    params: { Bucket: config.bucket, Key: key, Body: measured, ContentType: contentType },
    partSize: PART_SIZE,
    queueSize: PARALLEL_PARTS,
    leavePartsOnError: false,
  });
  const abort = () => void uploading.abort();
  signal.addEventListener('abort', abort, { once: true });
  try {
    await uploading.done();
  } finally {
    signal.removeEventListener('abort', abort);
    file.body.destroy();
  }
  if (file.size !== undefined && file.size !== size) {
    throw new FailureError(unavailable(`Output for ${uri} changed while it was read (${size} bytes read, ${file.size} expected)`, { uri }));
  }
  // Nothing is reported as stored that is not: the store must hold exactly the bytes sent.
  const head = await client.send(new sdk.HeadObjectCommand({ Bucket: config.bucket, Key: key }), { abortSignal: signal });
  if (head.ContentLength !== size) {
    throw new FailureError(unavailable(`${uri} holds ${head.ContentLength} bytes after upload, not the ${size} sent`, { uri }));
  }
  const stored: StoredOutput = { uri, size, sha256: hash.digest('hex'), content_type: contentType };
  // Read through /view: no file of this worker's folder to point at, whatever the path would say.
  if (!file.fromFolder) stored.path = null;
  if (config.presignSec !== undefined) {
    stored.presigned_url = await sdk.getSignedUrl(client, new sdk.GetObjectCommand({ Bucket: config.bucket, Key: key }), {
      expiresIn: config.presignSec,
    });
  }
  return stored;
}
