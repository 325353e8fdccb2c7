// The few parts of the AWS SDK output storage uses, imported by name so the bundler keeps only
// these; loaded on first use (s3-output-store.ts).
export { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
export { Upload } from '@aws-sdk/lib-storage';
export { getSignedUrl } from '@aws-sdk/s3-request-presigner';
