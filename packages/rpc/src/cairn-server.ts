// The Cairn filesystem server: the generic RPC server with the Filesystem
// method table and the mount reply a filesystem frontend needs.

import type { Filesystem } from '@cairn/inode';
import { MAX_IO_BYTES } from './format.js';
import { fsMethods } from './fs-methods.js';
import { createRpcServer, type RpcServer, type RpcServerOptions } from './server.js';

/** Options of createCairnServer(): those of createRpcServer() without the method table. */
export type CairnServerOptions = Omit<RpcServerOptions<Filesystem>, 'methods' | 'mountInfo'>;

/** What `mount` returns to a filesystem client. */
export interface MountInfo {
  readonly mountId: string;
  readonly volume: string;
  /** Protocol version the server speaks. */
  readonly v: number;
  readonly volumeId: string;
  readonly rootIno: number;
  /** Largest read/write payload per call. */
  readonly maxIoBytes: number;
  readonly maxFrameBytes: number;
  readonly maxInFlightPerConnection: number;
  readonly maxInFlightPerClient: number;
}

/**
 * Serves Filesystem volumes over RPC (call start() to listen). Each volume is
 * a mounted Filesystem; the server never mounts or unmounts them itself.
 */
export function createCairnServer(options: CairnServerOptions): RpcServer {
  return createRpcServer<Filesystem>({
    ...options,
    methods: fsMethods,
    mountInfo: (fs) => ({ volumeId: fs.volumeId, rootIno: fs.rootIno, maxIoBytes: MAX_IO_BYTES }),
  });
}
