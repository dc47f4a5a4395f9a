// Every verb, in the order `cairn --help` lists them.

import type { Command } from '../command.js';
import { checkpoint } from './checkpoint.js';
import { clean } from './clean.js';
import { fsck } from './fsck.js';
import { scrub } from './scrub.js';
import { snapshotCreate } from './snapshot-create.js';
import { snapshotLs } from './snapshot-ls.js';
import { snapshotRm } from './snapshot-rm.js';
import { status } from './status.js';
import { volumeCreate } from './volume-create.js';
import { volumeLs } from './volume-ls.js';
import { volumeServe } from './volume-serve.js';
import { volumeStats } from './volume-stats.js';
import { volumeUnserve } from './volume-unserve.js';

export const COMMANDS: readonly Command[] = [
  status, volumeLs, volumeCreate, volumeServe, volumeUnserve, volumeStats, checkpoint, snapshotCreate, snapshotLs, snapshotRm, fsck, scrub, clean,
];
