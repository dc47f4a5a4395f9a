import { isCairnError, type CairnErrorCode } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { describeConformance } from '../testing/index.js';
import { createMemoryStore } from './memory.js';

describeConformance('memory', async () => ({ store: createMemoryStore(), container: 'conformance' }));

async function expectCode(p: Promise<unknown>, code: CairnErrorCode): Promise<void> {
  let outcome: unknown = 'resolved';
  try {
    await p;
  } catch (err) {
    outcome = isCairnError(err) ? err.code : err;
  }
  expect(outcome).toBe(code);
}

describe('memory backend', () => {
  it('counts requests, errors and bytes', async () => {
    const store = createMemoryStore();
    const c = store.container('box');
    await c.put('a', Buffer.alloc(1000));
    const seg = c.openSegment('s');
    await seg.append(Buffer.alloc(500));
    await seg.close();
    await c.getBuffer('a', { range: { offset: 100, length: 300 } });
    await c.head('missing').catch(() => undefined);
    await c.list();
    expect(store.stats()).toEqual({ requests: 5, errors: 1, retries: 0, bytesIn: 300, bytesOut: 1500 });
  });

  it('keeps stores and containers apart', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.container('one').put('x', Buffer.from('a1'));
    await a.container('two').put('x', Buffer.from('a2'));
    expect((await a.container('one').getBuffer('x')).toString()).toBe('a1');
    expect((await a.container('two').getBuffer('x')).toString()).toBe('a2');
    await expectCode(b.container('one').head('x'), 'CAIRN_ERR_OBJ_NOT_FOUND');
  });

  it('a get returns the bytes of the moment, whatever happens next', async () => {
    const c = createMemoryStore().container('box');
    await c.put('o', Buffer.from('first'));
    const r = await c.get('o');
    await c.put('o', Buffer.from('second'));
    await c.delete('o');
    const chunks: Buffer[] = [];
    for await (const x of r.body) chunks.push(x as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('first');
  });

  it('a canceled or short streamed put stores nothing', async () => {
    const c = createMemoryStore().container('box');
    const ac = new AbortController();
    async function* body(): AsyncIterable<Buffer> {
      yield Buffer.alloc(10);
      ac.abort();
      yield Buffer.alloc(10);
    }
    await expectCode(c.put('canceled', body(), { signal: ac.signal }), 'CAIRN_ERR_CANCELED');
    await expectCode(c.put('short', Buffer.alloc(10), { contentLength: 11 }), 'CAIRN_ERR_INVALID_ARGUMENT');
    await expectCode(c.head('canceled'), 'CAIRN_ERR_OBJ_NOT_FOUND');
    await expectCode(c.head('short'), 'CAIRN_ERR_OBJ_NOT_FOUND');
  });

  it('close aborts open segments and refuses later calls', async () => {
    const store = createMemoryStore();
    const c = store.container('box');
    const s = c.openSegment('seg');
    await s.append(Buffer.alloc(10));
    await store.close();
    await expectCode(s.close(), 'CAIRN_ERR_OBJ_SEGMENT_CLOSED');
    await expectCode(c.put('x', Buffer.alloc(1)), 'CAIRN_ERR_CLOSED');
    await expectCode(store.ping(), 'CAIRN_ERR_CLOSED');
    expect(() => c.openSegment('later')).toThrow(/closed/);
  });
});
