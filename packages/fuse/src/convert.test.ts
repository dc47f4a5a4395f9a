import { describe, expect, it } from 'vitest';
import { entryStat, openFlags, O_APPEND, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, timeSpec, toStatfs, type StatFs } from './convert.js';

const statfs = (over: Partial<StatFs>): StatFs =>
  ({ blockSize: 4096, blocks: 1000, blocksFree: 500, files: 100, filesFree: 50, nameMax: 255, inodes: 50, liveBytes: 0, storedBytes: 0, segments: 0, deadSegments: 0, dirtyFiles: 0, openHandles: 0, ...over }) as StatFs;

describe('toStatfs', () => {
  it('passes small counts through', () => {
    expect(toStatfs(statfs({}))).toMatchObject({ bsize: 4096, frsize: 4096, blocks: 1000, bfree: 500, bavail: 500, files: 100, ffree: 50, namemax: 255 });
  });

  it('grows the block size until 1 PiB fits in 32-bit counts, keeping the byte totals', () => {
    const pib = 2 ** 50;
    const s = toStatfs(statfs({ blocks: pib / 4096, blocksFree: pib / 8192, files: 2 ** 40, filesFree: 2 ** 40 }));
    expect(s.blocks).toBeLessThanOrEqual(0xffffffff);
    expect(s.blocks * s.frsize).toBe(pib);
    expect(s.bfree * s.frsize).toBe(pib / 2);
    expect(s.files).toBe(0xffffffff);
  });
});

describe('openFlags', () => {
  it('maps the access mode, O_APPEND and O_TRUNC', () => {
    expect(openFlags(O_RDONLY)).toEqual({ read: true, write: false, append: false, truncate: false });
    expect(openFlags(O_WRONLY | O_TRUNC)).toEqual({ read: false, write: true, append: false, truncate: true });
    expect(openFlags(O_RDWR | O_APPEND)).toEqual({ read: true, write: true, append: true, truncate: false });
    expect(openFlags(O_RDONLY | O_TRUNC).truncate).toBe(false);
  });
});

describe('times and entries', () => {
  it('turns UTIME_OMIT into "leave alone"', () => {
    expect(timeSpec('omit')).toBeUndefined();
    expect(timeSpec('now')).toBe('now');
    expect(timeSpec(5n)).toBe(5n);
  });

  it('gives a directory entry its type bits', () => {
    expect(entryStat(4, 'dir').mode).toBe(0o040000);
    expect(entryStat(4, 'symlink').mode).toBe(0o120000);
  });
});
