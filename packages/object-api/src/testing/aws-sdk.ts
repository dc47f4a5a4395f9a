// @cairn/object-api/testing/aws-sdk — the real S3 clients the tests drive the
// S3 API with (pinned devDependencies of this package), re-exported so that
// tests under test/ resolve them through this package.
export * as S3 from '@aws-sdk/client-s3';
export { Upload } from '@aws-sdk/lib-storage';
export { getSignedUrl } from '@aws-sdk/s3-request-presigner';
export { default as aws4 } from 'aws4';
