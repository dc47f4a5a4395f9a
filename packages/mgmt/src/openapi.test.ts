import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE, openapiYaml } from './openapi.js';

describe('docs/openapi/mgmt.yaml', () => {
  it('is the generated document (regenerate: npx tsx packages/mgmt/src/openapi.ts)', async () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(await openapiYaml());
  });
});
