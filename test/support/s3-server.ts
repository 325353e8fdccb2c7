import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export const BUCKET = 'outputs';

/** s3rver's fixed credentials; the worker finds them through the SDK's default chain (environment). */
export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export interface S3Server {
  endpoint: string;
  /** Every request the server received, as "METHOD /path?query". */
  requests: string[];
  client: S3Client;
  get(key: string): Promise<Buffer>;
  head(key: string): Promise<HeadObjectCommandOutput>;
  keys(prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** A real S3-protocol server (s3rver) on loopback, with one bucket, and an SDK client to inspect it. */
export async function startS3Server(): Promise<S3Server> {
  const directory = mkdtempSync(path.join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: BUCKET }] });
  const { port } = await server.run();
  // A recording pass-through in front of it, so tests can see how an upload went (e.g. in parts).
  const requests: string[] = [];
  const recorder = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    requests,
    client,
    async get(key) {
      const reply = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return Buffer.from(await reply.Body!.transformToByteArray());
    },
    head: (key) => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })),
    async keys(prefix) {
      const reply = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
      return (reply.Contents ?? []).map((o) => o.Key!);
    },
    async stop() {
      client.destroy();
      recorder.closeAllConnections();
      await new Promise((resolve) => recorder.close(resolve));
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
