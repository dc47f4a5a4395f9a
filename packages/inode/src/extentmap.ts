// A writable ExtentMap laid over a read-only one: the extent-map functions of
// @cairn/segments (applyWrite, clearRange, truncate) run against it
// asynchronously, their changes collect in memory, and the caller commits the
// collected puts and deletes in one headhunter transaction. Correct only while
// nothing else changes the file's extents between the first read and the
// commit: data.ts guarantees that (see "Extent commits" in
// docs/architecture.md).

import { createMemoryOrderedMap, type ExtentMap, type ExtentValue, type MemoryOrderedMap } from '@cairn/segments';

export class OverlayExtentMap implements ExtentMap {
  /** Changed keys: a value (put) or null (deleted). */
  private readonly over: MemoryOrderedMap<ExtentValue | null> = createMemoryOrderedMap<ExtentValue | null>();

  constructor(private readonly base: ExtentMap) {}

  private async overridden(key: number): Promise<boolean> {
    const f = await this.over.floor(key);
    return f !== undefined && f[0] === key;
  }

  async floor(key: number): Promise<readonly [number, ExtentValue] | undefined> {
    if (key < 0) return undefined;
    let fromOverlay: readonly [number, ExtentValue] | undefined;
    for (let k = key; k >= 0;) {
      const f = await this.over.floor(k);
      if (f === undefined) break;
      if (f[1] !== null) {
        fromOverlay = [f[0], f[1]];
        break;
      }
      k = f[0] - 1;
    }
    let fromBase: readonly [number, ExtentValue] | undefined;
    for (let k = key; k >= 0;) {
      const f = await this.base.floor(k);
      if (f === undefined) break;
      if (!(await this.overridden(f[0]))) {
        fromBase = f;
        break;
      }
      k = f[0] - 1;
    }
    if (fromOverlay === undefined) return fromBase;
    if (fromBase === undefined) return fromOverlay;
    return fromOverlay[0] >= fromBase[0] ? fromOverlay : fromBase;
  }

  async scan(fromKey: number, toKey: number): Promise<ReadonlyArray<readonly [number, ExtentValue]>> {
    if (!(fromKey < toKey)) return [];
    const out: Array<readonly [number, ExtentValue]> = [];
    for (const e of await this.base.scan(fromKey, toKey)) if (!(await this.overridden(e[0]))) out.push(e);
    for (const [k, v] of await this.over.scan(fromKey, toKey)) if (v !== null) out.push([k, v]);
    out.sort((a, b) => a[0] - b[0]);
    return out;
  }

  async put(key: number, value: ExtentValue): Promise<void> {
    await this.over.put(key, value);
  }

  async delete(key: number): Promise<void> {
    await this.over.put(key, null);
  }

  /** The collected changes in key order: a value to put, or null to delete. */
  changes(): Array<[number, ExtentValue | null]> {
    return this.over.entries();
  }
}
