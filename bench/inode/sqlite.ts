// The SQLite baseline of bench/inode/ops.ts: what a SQLite-backed metadata
// engine does for the same operations, one transaction per operation, WAL
// journal, synchronous=FULL (every commit fsynced, like Cairn's replay log),
// on the same disk. A simple schema: inodes(ino primary key, attributes) and
// dentries(parent, name) -> ino without rowid. better-sqlite3 is synchronous,
// so callers are served one at a time whatever the concurrency.
//
// better-sqlite3 compiles from source here (minutes), so it is not part of the
// workspace: bench/inode/sqlite-baseline/package.json declares it and
// loadSqlite() installs it there on first use (npm install --prefix).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const PREFIX = join(HERE, 'sqlite-baseline');

/** The parts of better-sqlite3's API the baseline uses. */
interface Statement {
  run(...args: unknown[]): { changes: number };
  get(...args: unknown[]): unknown;
  all(...args: unknown[]): unknown[];
}
interface Database {
  pragma(s: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): Statement;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): void;
}
type DatabaseCtor = new (file: string) => Database;

/** better-sqlite3 from bench/inode/sqlite-baseline, installed there first when missing. */
export function loadSqlite(log: (s: string) => void): DatabaseCtor {
  const req = createRequire(join(PREFIX, 'package.json'));
  if (!existsSync(join(PREFIX, 'node_modules', 'better-sqlite3'))) {
    log('installing better-sqlite3 into bench/inode/sqlite-baseline (compiles from source: a few minutes)');
    const r = spawnSync('npm', ['install', '--prefix', PREFIX, '--no-package-lock', '--no-audit', '--no-fund'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`npm install --prefix ${PREFIX} failed (${r.status})`);
  }
  return req('better-sqlite3') as DatabaseCtor;
}

/** One SQLite metadata database with the baseline's operations. */
export class SqliteFs {
  private readonly db: Database;
  private nextIno: number;
  readonly create: (parent: number, name: string) => number;
  readonly rename: (parent: number, name: string, newParent: number, newName: string) => void;
  readonly unlink: (parent: number, name: string) => void;
  private readonly statStmt: Statement;
  private readonly lookupStmt: Statement;
  private readonly listStmt: Statement;

  constructor(Ctor: DatabaseCtor, file: string) {
    const db = new Ctor(file);
    this.db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS inodes (
        ino INTEGER PRIMARY KEY, mode INTEGER, uid INTEGER, gid INTEGER, nlink INTEGER, size INTEGER,
        atime INTEGER, mtime INTEGER, ctime INTEGER, btime INTEGER);
      CREATE TABLE IF NOT EXISTS dentries (parent INTEGER, name TEXT, ino INTEGER, PRIMARY KEY (parent, name)) WITHOUT ROWID;
      INSERT OR IGNORE INTO inodes VALUES (1, ${0o40755}, 0, 0, 2, 0, 0, 0, 0, 0);`);
    this.nextIno = ((db.prepare('SELECT MAX(ino) AS m FROM inodes').get() as { m: number }).m ?? 1) + 1;
    const insInode = db.prepare('INSERT INTO inodes VALUES (?, ?, 0, 0, ?, 0, ?, ?, ?, ?)');
    const insDentry = db.prepare('INSERT INTO dentries VALUES (?, ?, ?)');
    const touch = db.prepare('UPDATE inodes SET mtime = ?, ctime = ? WHERE ino = ?');
    const getDentry = db.prepare('SELECT ino FROM dentries WHERE parent = ? AND name = ?');
    const delDentry = db.prepare('DELETE FROM dentries WHERE parent = ? AND name = ?');
    const dropLink = db.prepare('UPDATE inodes SET nlink = nlink - 1, ctime = ? WHERE ino = ?');
    const delInode = db.prepare('DELETE FROM inodes WHERE ino = ? AND nlink = 0');
    this.statStmt = db.prepare('SELECT * FROM inodes WHERE ino = ?');
    this.lookupStmt = getDentry;
    this.listStmt = db.prepare('SELECT name, ino FROM dentries WHERE parent = ? AND name > ? ORDER BY name LIMIT ?');
    this.create = db.transaction((parent: number, name: string) => {
      const t = Date.now();
      const ino = this.nextIno++;
      insInode.run(ino, 0o100644, 1, t, t, t, t);
      insDentry.run(parent, name, ino);
      touch.run(t, t, parent);
      return ino;
    });
    this.rename = db.transaction((parent: number, name: string, newParent: number, newName: string) => {
      const t = Date.now();
      const e = getDentry.get(parent, name) as { ino: number } | undefined;
      if (e === undefined) throw new Error(`ENOENT ${name}`);
      const old = getDentry.get(newParent, newName) as { ino: number } | undefined;
      if (old !== undefined) {
        delDentry.run(newParent, newName);
        dropLink.run(t, old.ino);
        delInode.run(old.ino);
      }
      delDentry.run(parent, name);
      insDentry.run(newParent, newName, e.ino);
      touch.run(t, t, parent);
      if (newParent !== parent) touch.run(t, t, newParent);
    });
    this.unlink = db.transaction((parent: number, name: string) => {
      const t = Date.now();
      const e = getDentry.get(parent, name) as { ino: number } | undefined;
      if (e === undefined) throw new Error(`ENOENT ${name}`);
      delDentry.run(parent, name);
      dropLink.run(t, e.ino);
      delInode.run(e.ino);
      touch.run(t, t, parent);
    });
  }

  /** Creates a directory `name` in the root. */
  mkdir(name: string): number {
    return this.db.transaction(() => {
      const ino = this.nextIno++;
      this.db.prepare('INSERT INTO inodes VALUES (?, ?, 0, 0, 2, 0, 0, 0, 0, 0)').run(ino, 0o40755);
      this.db.prepare('INSERT INTO dentries VALUES (1, ?, ?)').run(name, ino);
      return ino;
    })();
  }

  /** Creates `count` files `${prefix}${i}` in `dir`, all in one transaction (loading). */
  bulkCreate(dir: number, prefix: string, count: number): number[] {
    const out: number[] = [];
    const ins = this.db.prepare('INSERT INTO inodes VALUES (?, ?, 0, 0, 1, 0, 0, 0, 0, 0)');
    const dent = this.db.prepare('INSERT INTO dentries VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const ino = this.nextIno++;
        ins.run(ino, 0o100644);
        dent.run(dir, `${prefix}${i}`, ino);
        out.push(ino);
      }
    })();
    return out;
  }

  stat(ino: number): unknown {
    const r = this.statStmt.get(ino);
    if (r === undefined) throw new Error(`ESTALE ${ino}`);
    return r;
  }

  lookup(parent: number, name: string): unknown {
    const e = this.lookupStmt.get(parent, name) as { ino: number } | undefined;
    if (e === undefined) throw new Error(`ENOENT ${name}`);
    return this.stat(e.ino);
  }

  /** Lists a directory in pages of `page` entries; returns the entry count. */
  readdir(dir: number, page = 1000): number {
    let after = '';
    let n = 0;
    for (;;) {
      const rows = this.listStmt.all(dir, after, page) as Array<{ name: string }>;
      n += rows.length;
      if (rows.length < page) return n;
      after = rows[rows.length - 1]!.name;
    }
  }

  close(): void {
    this.db.close();
  }
}
