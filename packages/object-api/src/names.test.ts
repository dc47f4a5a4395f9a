import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkContainerName, checkNewBucketName, isVisibleContainer, parseObjectName } from './names.js';

describe('names', () => {
  it('splits object names into path segments', () => {
    expect(parseObjectName('a/b/c')).toEqual({ name: 'a/b/c', segments: ['a', 'b', 'c'], trailingSlash: false });
    expect(parseObjectName('dir/')).toEqual({ name: 'dir/', segments: ['dir'], trailingSlash: true });
    expect(parseObjectName('x'.repeat(255)).segments).toHaveLength(1);
  });
  it('refuses names that cannot be a path, each with its reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty object name/], ['/a', /empty path segment/], ['a//b', /empty path segment/], ['a/./b', /'\.' path segment/],
      ['..', /'\.\.' path segment/], ['a\0b', /NUL/], ['x'.repeat(256), /longer than 255 bytes/],
      [`${'a/'.repeat(512)}a`, /longer than 1024 bytes/], ['\ud800', /not valid UTF-8/], ['a//', /empty path segment/],
    ];
    for (const [n, why] of cases) expect(() => parseObjectName(n), JSON.stringify(n.slice(0, 20))).toThrow(why);
  });
  it('containers: one component, reserved names hidden; buckets: S3 rules', () => {
    expect(checkContainerName('My Container')).toBe('My Container');
    expect(() => checkContainerName('a/b')).toThrow(/contains '\/'/);
    expect(() => checkContainerName('.cairn-tmp')).toThrow(/reserved/);
    expect(isVisibleContainer('.cairn-uploads')).toBe(false);
    expect(checkNewBucketName('my-bucket.1')).toBe('my-bucket.1');
    for (const b of ['ab', 'UPPER', 'a..b', '192.168.1.1', '-abc', 'x'.repeat(64)]) expect(() => checkNewBucketName(b)).toThrow(/invalid bucket name/);
  });
  it('every accepted name round-trips and has only valid segments (fuzz)', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '/', '.', '\u00e9', ' ', '\0'), maxLength: 30 }), (n) => {
      let p;
      try {
        p = parseObjectName(n);
      } catch (err) {
        expect((err as { status?: number }).status).toBe(400);
        return;
      }
      expect(p.segments.join('/') + (p.trailingSlash ? '/' : '')).toBe(n);
      for (const s of p.segments) expect(s === '' || s === '.' || s === '..' || s.includes('\0')).toBe(false);
    }), { numRuns: 500 });
  });
});
