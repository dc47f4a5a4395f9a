// The only place that builds the names of cairnd's local files under dataDir
// and of its records in the object store. docs/operations.md "Running cairnd"
// lists them.

import { join } from 'node:path';

/** Local files under the data directory. */
export const localPaths = {
  /** This daemon's generated node id. */
  node: (dataDir: string): string => join(dataDir, 'node.json'),
  /** Generated secrets (admin token, object API key, volume secrets); mode 0600. */
  credentials: (dataDir: string): string => join(dataDir, 'credentials.json'),
  /** Where the running daemon listens (read by the CLI); removed at shutdown. */
  runtime: (dataDir: string): string => join(dataDir, 'cairnd.json'),
  /** Serve/unserve decisions taken at run time; they win over the config file. */
  served: (dataDir: string): string => join(dataDir, 'served.json'),
  /** Local state of one volume. */
  volumeDir: (dataDir: string, volume: string): string => join(dataDir, 'volumes', volume),
  /** The volume's replay log directory. */
  replayLog: (dataDir: string, volume: string): string => join(dataDir, 'volumes', volume, 'log'),
  /** The single-node ownership lock of a volume. */
  ownerLock: (dataDir: string, volume: string): string => join(dataDir, 'volumes', volume, 'owner.lock'),
} as const;

/** Container of cairnd's own records in the object store (volume catalog, owner records). */
export const CATALOG_CONTAINER = 'cairn-catalog';
/** Catalog record of a volume: JSON { name, volumeId, createdAt, dataContainers }. */
export const catalogVolumeObject = (volume: string): string => `volumes/${volume}`;
export const CATALOG_VOLUME_PREFIX = 'volumes/';
/** Owner record of a served volume: JSON { node, since, pid }. */
export const ownerObject = (volume: string): string => `owners/${volume}`;
