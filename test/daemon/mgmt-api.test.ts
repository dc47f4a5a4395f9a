// Every management endpoint of an in-process cairnd, with auth (401/403),
// the OpenAPI document and the Prometheus series.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '@cairn/daemon';
import { METRICS } from '@cairn/mgmt';
import { CairnClient } from '@cairn/rpc';
import { ROOT, api, startInProcess, tempDir, waitFor } from './helpers.js';

const ADMIN = 'admin-secret-token';
const READ = 'read-only-token';

/** Every path the management API documents (docs/operations.md "Management API"). */
export const DOCUMENTED_PATHS = [
  '/v1/volumes', '/v1/volumes/{volume}', '/v1/volumes/{volume}/serve', '/v1/volumes/{volume}/unserve', '/v1/volumes/{volume}/stats',
  '/v1/volumes/{volume}/read-only', '/v1/volumes/{volume}/deletions/pause', '/v1/volumes/{volume}/deletions/resume',
  '/v1/volumes/{volume}/checkpoints', '/v1/volumes/{volume}/snapshots', '/v1/volumes/{volume}/snapshots/{snapshot}',
  '/v1/volumes/{volume}/jobs', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/cancel', '/v1/status', '/healthz', '/readyz', '/metrics',
];

let dir: string;
let daemon: Daemon;
let url: string;

beforeAll(async () => {
  dir = tempDir();
  ({ daemon, url } = await startInProcess(dir));
});

afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function waitJob(id: string): Promise<any> {
  return waitFor(`job ${id}`, async () => {
    const r = await api(url, 'GET', `/v1/jobs/${id}`, READ);
    return r.body.state === 'queued' || r.body.state === 'running' ? undefined : r.body;
  }, 30_000, 50);
}

describe('auth', () => {
  it('refuses calls without a token or with a wrong one (401)', async () => {
    const none = await api(url, 'GET', '/v1/volumes', undefined);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('CAIRN_ERR_MGMT_UNAUTHORIZED');
    expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
    expect((await api(url, 'GET', '/v1/volumes', 'nope')).status).toBe(401);
    expect((await api(url, 'POST', '/v1/volumes/vol1/checkpoints', undefined)).status).toBe(401);
    expect((await api(url, 'GET', '/metrics', undefined)).status).toBe(401);
  });
  it('lets a read token read but not change anything (403)', async () => {
    expect((await api(url, 'GET', '/v1/volumes', READ)).status).toBe(200);
    expect((await api(url, 'GET', '/metrics', READ)).status).toBe(200);
    for (const [m, p, b] of [
      ['POST', '/v1/volumes', { name: 'x' }], ['POST', '/v1/volumes/vol1/checkpoints', undefined], ['POST', '/v1/volumes/vol1/unserve', undefined],
      ['PUT', '/v1/volumes/vol1/read-only', { enabled: true }], ['POST', '/v1/volumes/vol1/jobs', { kind: 'fsck' }],
      ['DELETE', '/v1/volumes/vol1/snapshots/s', undefined], ['POST', '/v1/volumes/vol1/deletions/pause', undefined],
    ] as const) {
      const r = await api(url, m, p, READ, b);
      expect(r.status, `${m} ${p}`).toBe(403);
      expect(r.body.error.code).toBe('CAIRN_ERR_MGMT_FORBIDDEN');
    }
  });
  it('answers health checks and docs without a token, with a request id', async () => {
    const h = await api(url, 'GET', '/healthz', undefined);
    expect(h.status).toBe(200);
    expect(h.headers.get('x-request-id')).toBeTruthy();
    const r = await api(url, 'GET', '/readyz', undefined);
    expect(r.status).toBe(200);
    expect(r.body.ready).toBe(true);
    const given = await fetch(`${url}/healthz`, { headers: { 'x-request-id': 'my-req-1' } });
    expect(given.headers.get('x-request-id')).toBe('my-req-1');
  });
});

describe('volumes', () => {
  it('lists the served default volume', async () => {
    const r = await api(url, 'GET', '/v1/volumes', ADMIN);
    expect(r.status).toBe(200);
    const v = r.body.volumes.find((x: any) => x.name === 'vol1');
    expect(v).toMatchObject({ served: true, readOnly: false, deletionsPaused: false });
    expect(v.volumeId).toMatch(/[0-9a-f-]{36}/);
    expect(v.owner).toBe(daemon.runtime.nodeId);
    expect((await api(url, 'GET', '/v1/volumes/vol1', ADMIN)).body.name).toBe('vol1');
    expect((await api(url, 'GET', '/v1/volumes/nope', ADMIN)).status).toBe(404);
  });
  it('creates a volume, refuses a duplicate and bad names', async () => {
    const r = await api(url, 'POST', '/v1/volumes', ADMIN, { name: 'vol2' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'vol2', served: true });
    const dup = await api(url, 'POST', '/v1/volumes', ADMIN, { name: 'vol2' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CAIRN_ERR_MGMT_VOLUME_EXISTS');
    const bad = await api(url, 'POST', '/v1/volumes', ADMIN, { name: 'Bad Name' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/name/);
    const extra = await api(url, 'POST', '/v1/volumes', ADMIN, { name: 'vol3', colour: 'red' });
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toMatch(/colour: unknown field/);
  });
  it('unserves and serves again', async () => {
    const u = await api(url, 'POST', '/v1/volumes/vol2/unserve', ADMIN);
    expect(u.status).toBe(200);
    expect(u.body).toMatchObject({ name: 'vol2', served: false });
    expect(u.body.owner).toBeUndefined();
    expect((await api(url, 'POST', '/v1/volumes/vol2/unserve', ADMIN)).status).toBe(409);
    expect((await api(url, 'GET', '/v1/volumes/vol2/stats', ADMIN)).status).toBe(409);
    const s = await api(url, 'POST', '/v1/volumes/vol2/serve', ADMIN, {});
    expect(s.status).toBe(200);
    expect(s.body.served).toBe(true);
    expect((await api(url, 'POST', '/v1/volumes/vol2/serve', ADMIN, {})).status).toBe(409);
    expect((await api(url, 'POST', '/v1/volumes/ghost/serve', ADMIN, {})).status).toBe(404);
  });
  it('reports stats', async () => {
    const r = await api(url, 'GET', '/v1/volumes/vol1/stats', READ);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'vol1', inodes: expect.any(Number), liveRatio: expect.any(Number), replayLogBytes: expect.any(Number) });
    expect(r.body.inodes).toBeGreaterThanOrEqual(1);
    expect(r.body.lastCheckpoint.id).toBeGreaterThan(0);
  });
  it('switches read-only: RPC mutations fail with EROFS, reads work', async () => {
    const rt = daemon.runtime.listeners.rpc!;
    const client = await CairnClient.connect({ host: rt.host, port: rt.port, volume: 'vol1', secret: 'vol1-secret', cred: { uid: 0, gid: 0, groups: [] } });
    try {
      expect((await api(url, 'PUT', '/v1/volumes/vol1/read-only', ADMIN, { enabled: true })).body.readOnly).toBe(true);
      await expect(client.mkdir({ parent: 1, name: 'd', mode: 0o755 })).rejects.toMatchObject({ errno: 'EROFS' });
      await expect(client.getattr({ ino: 1 })).resolves.toMatchObject({ ino: 1 });
      expect((await api(url, 'PUT', '/v1/volumes/vol1/read-only', ADMIN, { enabled: false })).body.readOnly).toBe(false);
      await expect(client.mkdir({ parent: 1, name: 'd', mode: 0o755 })).resolves.toMatchObject({ type: 'dir' });
    } finally {
      await client.close();
    }
  });
  it('pauses and resumes deletions', async () => {
    expect((await api(url, 'POST', '/v1/volumes/vol1/deletions/pause', ADMIN)).body.deletionsPaused).toBe(true);
    const clean = await api(url, 'POST', '/v1/volumes/vol1/jobs', ADMIN, { kind: 'clean' });
    const done = await waitJob(clean.body.id);
    expect(done.state).toBe('failed');
    expect(done.error.code).toBe('CAIRN_ERR_MGMT_VOLUME_BUSY');
    expect((await api(url, 'POST', '/v1/volumes/vol1/deletions/resume', ADMIN)).body.deletionsPaused).toBe(false);
  });
});

describe('checkpoints and snapshots', () => {
  it('checkpoints now and lists recent checkpoints', async () => {
    const a = await api(url, 'POST', '/v1/volumes/vol1/checkpoints', ADMIN);
    expect(a.status).toBe(201);
    const b = await api(url, 'POST', '/v1/volumes/vol1/checkpoints', ADMIN);
    expect(b.body.id).toBeGreaterThan(a.body.id);
    const list = await api(url, 'GET', '/v1/volumes/vol1/checkpoints?limit=2', READ);
    expect(list.body.checkpoints.map((c: any) => c.id)).toEqual([b.body.id, a.body.id]);
    expect(list.body.checkpoints[0].bytes).toBeGreaterThan(0);
    expect((await api(url, 'GET', '/v1/volumes/ghost/checkpoints', READ)).status).toBe(404);
  });
  it('creates, lists and deletes snapshots', async () => {
    const c = await api(url, 'POST', '/v1/volumes/vol1/snapshots', ADMIN, { name: 'snap-1' });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    expect(c.body).toMatchObject({ name: 'snap-1', commit: expect.any(Number), inodes: expect.any(Number) });
    expect(Date.parse(c.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await api(url, 'POST', '/v1/volumes/vol1/snapshots', ADMIN, { name: 'snap-1' })).status).toBe(409);
    expect((await api(url, 'POST', '/v1/volumes/vol1/snapshots', READ, { name: 'snap-2' })).status).toBe(403);
    expect((await api(url, 'GET', '/v1/volumes/vol1/snapshots', READ)).body.snapshots.map((s: any) => s.name)).toContain('snap-1');
    expect((await api(url, 'DELETE', '/v1/volumes/vol1/snapshots/snap-1', ADMIN)).status).toBe(204);
    expect((await api(url, 'DELETE', '/v1/volumes/vol1/snapshots/snap-1', ADMIN)).status).toBe(404);
    expect((await api(url, 'GET', '/v1/volumes/vol1/snapshots', READ)).body.snapshots.map((s: any) => s.name)).not.toContain('snap-1');
  });
});

describe('jobs', () => {
  it('runs fsck and scrub with progress and a result', async () => {
    for (const kind of ['fsck', 'scrub'] as const) {
      const r = await api(url, 'POST', '/v1/volumes/vol1/jobs', ADMIN, { kind });
      expect(r.status).toBe(202);
      expect(r.headers.get('location')).toBe(`/v1/jobs/${r.body.id}`);
      const done = await waitJob(r.body.id);
      expect(done.state, JSON.stringify(done)).toBe('succeeded');
      expect(done.result.ok).toBe(true);
      expect(done.progress).toMatchObject({ done: expect.any(Number), rate: expect.any(Number) });
    }
    const clean = await waitJob((await api(url, 'POST', '/v1/volumes/vol1/jobs', ADMIN, { kind: 'clean' })).body.id);
    expect(clean.state).toBe('succeeded');
  });
  it('lists, cancels and refuses bad jobs', async () => {
    const list = await api(url, 'GET', '/v1/jobs?volume=vol1&kind=fsck', READ);
    expect(list.body.jobs.length).toBeGreaterThan(0);
    expect(list.body.jobs.every((j: any) => j.kind === 'fsck')).toBe(true);
    const id = list.body.jobs[0].id;
    expect((await api(url, 'POST', `/v1/jobs/${id}/cancel`, ADMIN)).body.state).toBe('succeeded');
    expect((await api(url, 'GET', '/v1/jobs/nope', READ)).status).toBe(404);
    expect((await api(url, 'POST', '/v1/volumes/vol1/jobs', ADMIN, { kind: 'defrag' })).status).toBe(400);
    expect((await api(url, 'POST', '/v1/volumes/ghost/jobs', ADMIN, { kind: 'fsck' })).status).toBe(404);
    const orphan = await waitJob((await api(url, 'POST', '/v1/volumes/vol1/jobs', ADMIN, { kind: 'orphan-sweep' })).body.id);
    expect(['succeeded', 'failed']).toContain(orphan.state);
  });
});

describe('status, metrics and OpenAPI', () => {
  it('reports status', async () => {
    const r = await api(url, 'GET', '/v1/status', READ);
    expect(r.body).toMatchObject({ nodeId: daemon.runtime.nodeId, backend: 'fs', ownership: 'local', shuttingDown: false });
    expect(r.body.listeners.map((l: any) => l.api).sort()).toEqual(['mgmt', 'object', 'rpc']);
  });
  it('exports every documented series', async () => {
    const r = await api(url, 'GET', '/metrics', READ);
    expect(r.headers.get('content-type')).toMatch(/text\/plain/);
    for (const def of Object.values(METRICS)) expect(r.body, def.name).toContain(`# HELP ${def.name} `);
    expect(r.body).toMatch(/cairn_volume_served\{volume="vol1"\} 1/);
    expect(r.body).toMatch(/cairn_http_requests_total\{api="mgmt"/);
    expect(r.body).toMatch(/cairn_backend_requests_total\{backend="fs"\} \d+/);
    expect(r.body).toMatch(/cairn_backend_request_duration_seconds_count\{op="put",outcome="ok"\} \d+/);
    expect(r.body).toMatch(/cairn_fs_operations_total\{api="rpc",volume="vol1",method="mkdir",outcome="EROFS"\} 1/);
    expect(r.body).toMatch(/cairn_up 1/);
    // Per-volume series read from the filesystem's stats().
    expect(r.body).toMatch(/cairn_meta_commits_total\{volume="vol1"\} [1-9]/);
    expect(r.body).toMatch(/cairn_checkpoints_total\{volume="vol1",outcome="published"\} [1-9]/);
    expect(r.body).toMatch(/cairn_replaylog_batches_total\{volume="vol1"\} [1-9]/);
    expect(r.body).toMatch(/cairn_segments_open\{volume="vol1"\} \d+/);
    expect(r.body).toMatch(/cairn_intentlog_held\{volume="vol1"\} \d+/);
    expect(r.body).toMatch(/cairn_cache_hits_total\{volume="vol1",cache="metadata"\} \d+/);
  });
  it('serves a valid OpenAPI document with the documented paths', async () => {
    const res = await fetch(`${url}/docs/json`);
    expect(res.status).toBe(200);
    const doc = JSON.parse(await res.text());
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Cairn management API');
    for (const p of DOCUMENTED_PATHS) expect(Object.keys(doc.paths), p).toContain(p);
    expect(doc.components.securitySchemes.bearer.scheme).toBe('bearer');
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Volume', 'Job', 'Error']));
    expect((await fetch(`${url}/docs`)).status).toBeLessThan(400);
  });
});

describe('docs/operations.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  it('documents every path and every series', () => {
    for (const p of DOCUMENTED_PATHS) expect(doc, p).toContain(` ${p}`);
    for (const def of Object.values(METRICS)) expect(doc, def.name).toContain(`\`${def.name}\``);
  });
});
