import { isCairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { resolveSwiftOptions, SWIFT_DEFAULTS, type SwiftStoreOptions } from './swift-options.js';

const ok: SwiftStoreOptions = { authUrl: 'http://127.0.0.1:18080/auth/v1.0', user: 'test:tester', key: 'testing' };

function refusal(o: unknown): string {
  try {
    resolveSwiftOptions(o as SwiftStoreOptions);
  } catch (e) {
    expect(isCairnError(e, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('swift options', () => {
  it('fills in the defaults', () => {
    const r = resolveSwiftOptions(ok);
    expect(r.authVersion).toBe(1);
    expect(r.poolSize).toBe(SWIFT_DEFAULTS.poolSize);
    expect(r.retry).toEqual({ maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5000, factor: 2 });
    expect(r.segmentMaxSize).toBe(10 * 1024 * 1024);
    expect(r.autoCreateContainers).toBe(true);
    expect(r.storageUrl).toBeUndefined();
  });

  it('refuses each bad option by name, before connecting', () => {
    expect(refusal({ ...ok, authUrl: 'ftp://x' })).toContain('authUrl');
    expect(refusal({ ...ok, authUrl: 'not a url' })).toContain('authUrl');
    expect(refusal({ ...ok, authUrl: 'http://u:p@h/auth' })).toContain('authUrl');
    expect(refusal({ ...ok, user: '' })).toContain('user');
    expect(refusal({ ...ok, key: 'a\nb' })).toContain('key');
    expect(refusal({ ...ok, storageUrl: 'x' })).toContain('storageUrl');
    expect(refusal({ ...ok, authVersion: 2 })).toContain('authVersion');
    expect(refusal({ ...ok, authVersion: 3 })).toContain('projectName');
    expect(refusal({ ...ok, poolSize: 0 })).toContain('poolSize');
    expect(refusal({ ...ok, poolSize: 1.5 })).toContain('poolSize');
    expect(refusal({ ...ok, requestTimeoutMs: -1 })).toContain('requestTimeoutMs');
    expect(refusal({ ...ok, retry: { maxAttempts: 0 } })).toContain('retry.maxAttempts');
    expect(refusal({ ...ok, retry: { factor: 0.5 } })).toContain('retry.factor');
    expect(refusal({ ...ok, retry: { baseDelayMs: 100, maxDelayMs: 10 } })).toContain('retry.maxDelayMs');
    expect(refusal({ ...ok, logger: {} })).toContain('logger');
    expect(refusal({ ...ok, endpointInterface: 'private' })).toContain('endpointInterface');
    expect(refusal(null)).toContain('options');
  });

  it('never puts the key into a refusal', () => {
    expect(refusal({ ...ok, key: 'sekrit\n' })).not.toContain('sekrit');
  });
});
