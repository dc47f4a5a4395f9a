// undici and aws4 are dependencies of @cairn/objstore, not of the workspace root,
// so a file under bench/ cannot import them by bare name. The raw baselines load
// the very copies the backends use, through that package's node_modules (pnpm
// links every dependency there). Adding both to the root devDependencies would
// let this file shrink to two plain imports.

import { createRequire } from 'node:module';

export { Agent, type Dispatcher } from '../../packages/objstore/node_modules/undici/index.js';

/** The part of aws4 the raw S3 baseline uses. */
export interface Aws4Request {
  host: string;
  method: string;
  path: string;
  service: 's3';
  region: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface Aws4 {
  sign(request: Aws4Request, credentials: { accessKeyId: string; secretAccessKey: string }): Aws4Request;
}

const require = createRequire(import.meta.url);
export const aws4 = require('../../packages/objstore/node_modules/aws4') as Aws4;
