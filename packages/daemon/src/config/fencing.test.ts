// The fencing section of the configuration: its defaults, the endpoints etcd
// fencing needs, and the publisher each kind gives a served volume.

import { createMemoryStore } from '@cairn/objstore';
import { isCairnError } from '@cairn/errors';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createVolumePublisher } from '../ownership.js';
import { validateConfig } from './load.js';

describe('fencing configuration', () => {
  it('defaults to the object-store publisher', () => {
    const cfg = validateConfig({});
    expect(cfg.fencing).toEqual({ kind: 'objstore', etcd: { endpoints: [], prefix: '/cairn', requestTimeoutMs: 5000 } });
    expect(createVolumePublisher(createMemoryStore(), 'vol1', cfg.fencing, pino({ level: 'silent' })).publisher.kind).toBe('objstore');
  });

  it('etcd fencing needs endpoints and gives an etcd publisher', async () => {
    expect(() => validateConfig({ fencing: { kind: 'etcd' } })).toThrow(/fencing\.etcd\.endpoints: required/);
    try {
      validateConfig({ fencing: { kind: 'etcd' } });
    } catch (err) {
      expect(isCairnError(err, 'CAIRN_ERR_CONFIG_SCHEMA')).toBe(true);
    }
    expect(() => validateConfig({ fencing: { kind: 'zookeeper' } })).toThrow();
    const cfg = validateConfig({ fencing: { kind: 'etcd', etcd: { endpoints: ['http://127.0.0.1:1'], prefix: '/x' } } });
    const p = createVolumePublisher(createMemoryStore(), 'vol1', cfg.fencing, pino({ level: 'silent' }));
    expect(p.publisher.kind).toBe('etcd');
    await p.close();
  });
});
