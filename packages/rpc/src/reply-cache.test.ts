import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyCache, type Admission } from './reply-cache.js';

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function execute<R>(a: Admission<R>): (reply: R) => void {
  if (a.kind !== 'execute') throw new Error(`expected execute, got ${a.kind}`);
  return a.finish;
}

describe('ReplyCache', () => {
  it('runs a new request, then answers its retry from the cache without running it again', () => {
    const c = new ReplyCache<string>();
    execute(c.admit('A', 1, 1, true))('created');
    const again = c.admit('A', 1, 1, true);
    expect(again).toEqual({ kind: 'cached', reply: 'created' });
    expect(c.stats()).toMatchObject({ executed: 1, cachedHits: 1, stored: 1 });
  });

  it('attaches a retry to the running execution and hands both the one reply', async () => {
    const c = new ReplyCache<string>();
    const finish = execute(c.admit('A', 7, 7, true));
    const r1 = c.admit('A', 7, 7, true);
    const r2 = c.admit('A', 7, 7, true);
    expect(r1.kind).toBe('attach');
    expect(r2.kind).toBe('attach');
    finish('done once');
    await expect((r1 as { reply: Promise<string> }).reply).resolves.toBe('done once');
    await expect((r2 as { reply: Promise<string> }).reply).resolves.toBe('done once');
    expect(c.stats()).toMatchObject({ executed: 1, attached: 2 });
  });

  it('keeps clients apart: the same request id of another client is a new request', () => {
    const c = new ReplyCache<string>();
    execute(c.admit('A', 1, 1, true))('a');
    expect(c.admit('B', 1, 1, true).kind).toBe('execute');
  });

  it('does not store idempotent replies (a retry after completion runs again) but still attaches while running', async () => {
    const c = new ReplyCache<string>();
    const finish = execute(c.admit('A', 3, 3, false));
    const att = c.admit('A', 3, 3, false);
    expect(att.kind).toBe('attach');
    finish('attrs');
    await expect((att as { reply: Promise<string> }).reply).resolves.toBe('attrs');
    expect(c.stats().stored).toBe(0);
    expect(c.admit('A', 3, 3, false).kind).toBe('execute');
  });

  it('trims replies below the ack floor and refuses requests below it as stale', () => {
    const c = new ReplyCache<number>();
    for (let id = 1; id <= 5; id++) execute(c.admit('A', id, 1, true))(id * 10);
    expect(c.stats().stored).toBe(5);
    const f = execute(c.admit('A', 6, 4, true)); // the client has replies 1..3
    expect(c.stats().stored).toBe(2);
    expect(c.admit('A', 2, 4, true)).toEqual({ kind: 'stale' });
    expect(c.admit('A', 4, 4, true)).toEqual({ kind: 'cached', reply: 40 });
    // A lower ack from a delayed frame never lowers the floor.
    expect(c.admit('A', 3, 1, true)).toEqual({ kind: 'stale' });
    f(60);
  });

  it('does not store a reply whose request fell below the floor while running (the client gave up)', () => {
    const c = new ReplyCache<string>();
    const f1 = execute(c.admit('A', 1, 1, true));
    execute(c.admit('A', 2, 2, true))('two');
    f1('late');
    expect(c.admit('A', 1, 2, true)).toEqual({ kind: 'stale' });
    expect(c.stats().stored).toBe(1);
  });

  it('trims replies that completed out of order once the floor passes them', () => {
    const c = new ReplyCache<number>();
    const f1 = execute(c.admit('A', 1, 1, true));
    const f2 = execute(c.admit('A', 2, 1, true));
    const f3 = execute(c.admit('A', 3, 1, true));
    f3(3);
    f1(1);
    f2(2);
    execute(c.admit('A', 4, 3, true))(4); // floor 3: 1 and 2 are below it but completed after 3
    expect(c.admit('A', 1, 3, true)).toEqual({ kind: 'stale' });
    expect(c.stats().stored).toBe(4); // they wait behind 3 (bounded by the TTL)
    execute(c.admit('A', 5, 5, true))(5); // floor 5: 3 goes, and the stragglers with it
    expect(c.stats().stored).toBe(1);
    expect(c.admit('A', 4, 5, true)).toEqual({ kind: 'stale' });
  });

  it('forgets replies after the TTL and then refuses their retries as expired (never runs them twice)', () => {
    const t = clock();
    const c = new ReplyCache<string>({ ttlMs: 1000, now: t.now });
    execute(c.admit('A', 1, 1, true))('one');
    execute(c.admit('A', 2, 1, true))('two');
    t.advance(999);
    c.sweep();
    expect(c.admit('A', 1, 1, true)).toEqual({ kind: 'cached', reply: 'one' });
    t.advance(1);
    c.sweep();
    expect(c.stats()).toMatchObject({ stored: 0, evicted: 2 });
    expect(c.admit('A', 1, 1, true)).toEqual({ kind: 'expired' });
    expect(c.admit('A', 2, 1, true)).toEqual({ kind: 'expired' });
    // Idempotent requests may run again; new ids are unaffected.
    expect(c.admit('A', 2, 1, false).kind).toBe('execute');
    expect(c.admit('A', 3, 1, true).kind).toBe('execute');
  });

  it('keeps at most maxRepliesPerClient replies, forgetting the oldest completed first', () => {
    const c = new ReplyCache<number>({ maxRepliesPerClient: 3 });
    for (let id = 1; id <= 5; id++) execute(c.admit('A', id, 1, true))(id);
    expect(c.stats()).toMatchObject({ stored: 3, evicted: 2 });
    expect(c.admit('A', 1, 1, true).kind).toBe('expired');
    expect(c.admit('A', 2, 1, true).kind).toBe('expired');
    expect(c.admit('A', 3, 1, true)).toEqual({ kind: 'cached', reply: 3 });
  });

  it('refuses new executions beyond maxRunning per client, but lets retries attach', () => {
    const c = new ReplyCache<string>();
    execute(c.admit('A', 1, 1, true, 2));
    execute(c.admit('A', 2, 1, true, 2));
    expect(c.admit('A', 3, 1, true, 2)).toEqual({ kind: 'busy' });
    expect(c.admit('A', 1, 1, true, 2).kind).toBe('attach');
    expect(c.admit('B', 1, 1, true, 2).kind).toBe('execute');
    expect(c.runningFor('A')).toBe(2);
  });

  it('forgets an idle client with nothing cached after clientTtlMs (touch keeps it)', () => {
    const t = clock();
    const c = new ReplyCache<string>({ ttlMs: 100, clientTtlMs: 1000, now: t.now });
    execute(c.admit('A', 1, 1, true))('x');
    t.advance(600);
    c.touch('A');
    t.advance(600);
    c.sweep();
    expect(c.has('A')).toBe(true); // reply expired, but the client was seen 600 ms ago
    t.advance(400);
    c.sweep();
    expect(c.has('A')).toBe(false);
  });

  it('model: whatever the retries, acks and clock, a non-idempotent request id executes at most once', async () => {
    type Op = { kind: 'send'; id: number; ack: number } | { kind: 'finish'; pick: number } | { kind: 'tick'; ms: number } | { kind: 'sweep' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), id: fc.integer({ min: 1, max: 30 }), ack: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(50) }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 400 }) }),
      fc.constant({ kind: 'sweep' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 200 }), fc.integer({ min: 1, max: 8 }), async (ops, cap) => {
        const t = clock();
        const c = new ReplyCache<number>({ ttlMs: 500, maxRepliesPerClient: cap, now: t.now });
        const runs = new Map<number, number>();
        const running: Array<{ id: number; finish: (r: number) => void }> = [];
        const attached: Array<{ id: number; reply: Promise<number> }> = [];
        for (const o of ops) {
          if (o.kind === 'send') {
            const a = c.admit('A', o.id, Math.min(o.ack, o.id), true);
            if (a.kind === 'execute') {
              runs.set(o.id, (runs.get(o.id) ?? 0) + 1);
              running.push({ id: o.id, finish: a.finish });
            } else if (a.kind === 'attach') attached.push({ id: o.id, reply: a.reply });
            else if (a.kind === 'cached') expect(a.reply).toBe(o.id * 100);
          } else if (o.kind === 'finish' && running.length > 0) {
            const [r] = running.splice(o.pick % running.length, 1);
            r!.finish(r!.id * 100);
          } else if (o.kind === 'tick') t.advance(o.ms);
          else if (o.kind === 'sweep') c.sweep();
        }
        for (const n of runs.values()) expect(n).toBe(1);
        for (const r of running) r.finish(r.id * 100);
        for (const a of attached) expect(await a.reply).toBe(a.id * 100);
      }),
      { numRuns: 300 },
    );
  });
});
