// The object-store self-check: exercises every operation of the ObjectStore
// interface against a backend and reports each step with its duration. `cairnd
// --self-check` runs it at start so an operator sees at once whether the configured
// backend works.

import { randomBytes, createHash } from 'node:crypto';
import { isCairnError } from '@cairn/errors';
import type { ObjectStore } from '@cairn/objstore';

export interface SelfCheckStep {
  readonly step: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail?: string;
}

export interface SelfCheckReport {
  readonly backend: string;
  readonly ok: boolean;
  readonly steps: readonly SelfCheckStep[];
}

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/** Runs put/get/range/head/list/create-if-absent/segment/delete against `container`. */
export async function runSelfCheck(store: ObjectStore, containerName = 'cairn-selfcheck'): Promise<SelfCheckReport> {
  const steps: SelfCheckStep[] = [];
  const c = store.container(containerName);
  const prefix = `selfcheck/${Date.now().toString(36)}-${randomBytes(4).toString('hex')}/`;
  const body = randomBytes(256 * 1024);

  async function step(name: string, fn: () => Promise<string | void>): Promise<boolean> {
    const t0 = performance.now();
    try {
      const detail = await fn();
      steps.push({ step: name, ok: true, ms: performance.now() - t0, ...(detail ? { detail } : {}) });
      return true;
    } catch (err) {
      const detail = isCairnError(err) ? `${err.code}: ${err.message}` : String(err);
      steps.push({ step: name, ok: false, ms: performance.now() - t0, detail });
      return false;
    }
  }
  const expect = (cond: boolean, what: string): void => {
    if (!cond) throw new Error(what);
  };

  await step('ping', async () => store.ping());
  await step('put 256 KiB', async () => {
    const info = await c.put(`${prefix}a`, body, { meta: { purpose: 'selfcheck' } });
    expect(info.etag === md5(body), `etag ${info.etag} is not the MD5 of the body`);
  });
  await step('get whole', async () => {
    const got = await c.getBuffer(`${prefix}a`);
    expect(got.equals(body), 'bytes read back differ');
  });
  await step('get range', async () => {
    const got = await c.getBuffer(`${prefix}a`, { range: { offset: 1000, length: 4096 } });
    expect(got.equals(body.subarray(1000, 5096)), 'range bytes differ');
  });
  await step('head', async () => {
    const h = await c.head(`${prefix}a`);
    expect(h.size === body.length && h.meta['purpose'] === 'selfcheck', 'head disagrees with put');
  });
  await step('create-if-absent refuses an existing name', async () => {
    try {
      await c.put(`${prefix}a`, Buffer.from('x'), { ifNoneMatch: true });
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_OBJ_PRECONDITION_FAILED')) return;
      throw err;
    }
    throw new Error('second create-if-absent succeeded');
  });
  await step('streaming segment', async () => {
    const seg = c.openSegment(`${prefix}seg`, { maxSize: 1 << 20 });
    for (let i = 0; i < 4; i++) await seg.append(body.subarray(i * 4096, (i + 1) * 4096));
    const info = await seg.close();
    expect(info.size === 16384, `segment size ${info.size}`);
  });
  await step('list', async () => {
    const page = await c.list({ prefix });
    const names = page.entries.map((e) => (e.kind === 'object' ? e.name : e.prefix));
    expect(names.join(',') === `${prefix}a,${prefix}seg`, `listing: ${names.join(',')}`);
    return `${names.length} objects`;
  });
  await step('delete', async () => {
    await c.delete(`${prefix}a`);
    await c.delete(`${prefix}seg`);
    await c.delete(`${prefix}a`); // idempotent
    const page = await c.list({ prefix });
    expect(page.entries.length === 0, 'objects remain after delete');
  });
  return { backend: store.kind, ok: steps.every((s) => s.ok), steps };
}
