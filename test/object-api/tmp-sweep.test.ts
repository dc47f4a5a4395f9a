// Temporary upload files a crash left behind are removed when the server
// starts (volumes given as a map) or when a volume is first used (volumes
// given as a function); fresh ones (uploads in progress) are kept.

import { createObjectApiServer, TMP_DIR } from '@cairn/object-api';
import { createModelFs } from '@cairn/object-api/testing';
import { describe, expect, it } from 'vitest';

async function seed(): Promise<ReturnType<typeof createModelFs>> {
  const fs = createModelFs();
  const tmp = await fs.mkdir(fs.rootIno, TMP_DIR);
  const old = (Date.now() - 3 * 24 * 3600 * 1000).toString(36).padStart(9, '0');
  await fs.createFile(tmp.ino, `${old}-00112233aabbccdd`);
  await fs.createFile(tmp.ino, `${Date.now().toString(36).padStart(9, '0')}-44556677aabbccdd`);
  return fs;
}

describe('stale temporary uploads', () => {
  it('are swept at start for a volume map', async () => {
    const fs = await seed();
    const app = await createObjectApiServer({ volumes: { AUTH_x: fs } });
    expect([...fs.dump().keys()].filter((k) => k.startsWith(`/${TMP_DIR}/`))).toHaveLength(1);
    await app.close();
  });
  it('are swept on first use for a volume function', async () => {
    const fs = await seed();
    const app = await createObjectApiServer({
      volumes: (a) => (a === 'AUTH_x' ? fs : undefined),
      swift: { users: [{ account: 'x', user: 'u', key: 'k' }] },
    });
    expect([...fs.dump().keys()].filter((k) => k.startsWith(`/${TMP_DIR}/`))).toHaveLength(2);
    const login = await app.inject({ method: 'GET', url: '/auth/v1.0', headers: { 'x-auth-user': 'x:u', 'x-auth-key': 'k' } });
    await app.inject({ method: 'HEAD', url: '/v1/AUTH_x', headers: { 'x-auth-token': String(login.headers['x-auth-token']) } });
    await new Promise((r) => setTimeout(r, 20));
    expect([...fs.dump().keys()].filter((k) => k.startsWith(`/${TMP_DIR}/`))).toHaveLength(1);
    await app.close();
  });
});
