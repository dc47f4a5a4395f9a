// The management API's OpenAPI document without a daemon: builds the server
// over a port that is never called and asks @fastify/swagger for the document.
// docs/openapi/mgmt.yaml is generated from it (run: npx tsx
// packages/mgmt/src/openapi.ts); a test keeps the file in sync.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cairnError } from '@cairn/errors';
import { pino } from 'pino';
import { JobManager } from './jobs.js';
import { createMetrics } from './metrics.js';
import type { ManagementPort } from './port.js';
import { createMgmtServer } from './server.js';

export const OPENAPI_FILE = new URL('../../../docs/openapi/mgmt.yaml', import.meta.url);

/** The OpenAPI document as YAML. */
export async function openapiYaml(version = '0.1.0'): Promise<string> {
  const never = new Proxy({}, { get: () => () => { throw cairnError('CAIRN_ERR_INTERNAL', 'document only'); } }) as ManagementPort;
  const logger = pino({ level: 'silent' });
  const server = await createMgmtServer({
    port: never, jobs: new JobManager({ runners: {}, logger }), metrics: createMetrics({ defaultMetrics: false }),
    tokens: { adminToken: 'x', readTokens: [] }, logger, version,
  });
  try {
    return (server.app as unknown as { swagger(o: { yaml: true }): string }).swagger({ yaml: true });
  } finally {
    await server.close();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(OPENAPI_FILE, await openapiYaml());
}
