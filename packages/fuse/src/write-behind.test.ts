import { cairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { WriteBehind, WriteBudget } from './write-behind.js';

interface Sent {
  offset: number;
  data: string;
  done: () => void;
  fail: (err: unknown) => void;
}

function recorder(autoAck = true): { sent: Sent[]; send: (offset: number, data: Buffer) => Promise<void> } {
  const sent: Sent[] = [];
  return {
    sent,
    send: (offset, data) =>
      new Promise<void>((resolve, reject) => {
        sent.push({ offset, data: data.toString(), done: resolve, fail: reject });
        if (autoAck) resolve();
      }),
  };
}

const opts = { chunkBytes: 8, delayMs: 1, enabled: true };

describe('WriteBehind', () => {
  it('merges contiguous writes into chunks and sends the rest on drain', async () => {
    const r = recorder();
    const w = new WriteBehind(r.send, new WriteBudget(1024), opts);
    await w.write(0, Buffer.from('abcd'), undefined);
    await w.write(4, Buffer.from('efgh'), undefined);
    await w.write(8, Buffer.from('ij'), undefined);
    expect(r.sent.map((s) => [s.offset, s.data])).toEqual([[0, 'abcdefgh']]);
    expect(w.pendingEnd).toBe(10);
    await w.drain();
    expect(r.sent.map((s) => [s.offset, s.data])).toEqual([[0, 'abcdefgh'], [8, 'ij']]);
    expect(w.busy).toBe(false);
  });

  it('sends a partial extent after the delay', async () => {
    const r = recorder();
    const w = new WriteBehind(r.send, new WriteBudget(1024), opts);
    await w.write(0, Buffer.from('xy'), undefined);
    await new Promise((res) => setTimeout(res, 20));
    expect(r.sent.map((s) => s.data)).toEqual(['xy']);
  });

  it('makes an overlapping write wait for the one in flight', async () => {
    const r = recorder(false);
    const w = new WriteBehind(r.send, new WriteBudget(1024), { ...opts, chunkBytes: 4 });
    await w.write(0, Buffer.from('aaaa'), undefined);
    expect(r.sent).toHaveLength(1);
    let second = false;
    const p = w.write(2, Buffer.from('bb'), undefined).then(() => (second = true));
    await new Promise((res) => setTimeout(res, 5));
    expect(second).toBe(false);
    r.sent[0]!.done();
    await p;
    const settled = w.settle();
    r.sent[1]!.done();
    await settled;
    expect(r.sent.map((s) => [s.offset, s.data])).toEqual([[0, 'aaaa'], [2, 'bb']]);
  });

  it('reports a failed RPC once, at the next drain', async () => {
    const r = recorder(false);
    const w = new WriteBehind(r.send, new WriteBudget(1024), opts);
    await w.write(0, Buffer.from('12345678'), undefined);
    r.sent[0]!.fail(cairnError('CAIRN_ERR_FS_NO_SPACE', 'full'));
    await expect(w.drain()).rejects.toMatchObject({ code: 'CAIRN_ERR_FS_NO_SPACE' });
    await expect(w.drain()).resolves.toBeUndefined();
  });

  it('waits for room in the budget', async () => {
    const r = recorder(false);
    const budget = new WriteBudget(8);
    const w = new WriteBehind(r.send, budget, opts);
    await w.write(0, Buffer.from('12345678'), undefined);
    expect(budget.inUse).toBe(8);
    let admitted = false;
    const p = w.write(8, Buffer.from('9'), undefined).then(() => (admitted = true));
    await new Promise((res) => setTimeout(res, 5));
    expect(admitted).toBe(false);
    r.sent[0]!.done();
    await p;
    expect(admitted).toBe(true);
  });

  it('sends every write itself when disabled (append handles)', async () => {
    const r = recorder();
    const w = new WriteBehind(r.send, new WriteBudget(1024), { ...opts, enabled: false });
    await w.write(0, Buffer.from('a'), undefined);
    await w.write(1, Buffer.from('b'), undefined);
    expect(r.sent.map((s) => s.data)).toEqual(['a', 'b']);
    expect(w.busy).toBe(false);
  });
});
