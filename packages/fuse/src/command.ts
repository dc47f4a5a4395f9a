// `cairn mount VOLUME MOUNTPOINT`: connects a CairnClient to the RPC server,
// mounts the volume with FUSE and serves it until asked to stop (the signal
// in `io`, wired to SIGINT/SIGTERM by main.ts) or until someone else
// unmounts it; then unmounts cleanly and closes the client. When FUSE cannot
// work here (no /dev/fuse, no libfuse, not allowed to mount) it says so and
// what to do, before connecting anywhere.
//
// Exit codes follow the cairn CLI's: 0 done, 1 error, 2 bad command line,
// 3 server unreachable, 4 refused secret.

import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { cairnError, isCairnError } from '@cairn/errors';
import { CairnClient, UNIX_HOST_PREFIX, type ClientTlsOptions } from '@cairn/rpc';
import pino from 'pino';
import type { IdentityMode } from './cred.js';
import { mountFuse } from './mount.js';
import { checkFuseAvailable, checkMountpoint, isMounted } from './system.js';

export const MOUNT_USAGE = `usage: cairn mount VOLUME MOUNTPOINT [options]

Mounts a Cairn volume at MOUNTPOINT through FUSE and serves it until
interrupted (Ctrl-C, SIGTERM) or unmounted (fusermount -u MOUNTPOINT).

  --host HOST            RPC server (default 127.0.0.1); unix:PATH for the
                         daemon's Unix-domain socket (rpc.socketPath)
  --port PORT            RPC port (default 7420; not with unix:PATH)
  --secret SECRET        the volume's secret (default: $CAIRN_SECRET)
  --secret-file FILE     read the secret from FILE
  --tls                  connect with TLS (system CAs)
  --ca FILE              connect with TLS, trusting the CA in FILE
  --attr-timeout SEC     attribute cache time (default 1)
  --entry-timeout SEC    name cache time (default 1)
  --no-negative-lookups  ask the server for every name not cached (default:
                         names a recent complete listing lacks are missing)
  --identity MODE        caller (default): each request carries the calling
                         process's uid/gid/groups; mount: the mounting user's
  --no-allow-other       only the mounting user may use the mount
  --debug                libfuse's request trace on stderr
  --log-level LEVEL      pino level on stderr (default warn)
`;

const EXIT = { OK: 0, ERROR: 1, USAGE: 2, UNREACHABLE: 3, AUTH: 4 } as const;

export interface MountArgs {
  readonly volume: string;
  readonly mountpoint: string;
  readonly host: string;
  readonly port: number;
  /** The server's Unix-domain socket (from `--host unix:PATH`); host and port are then unused. */
  readonly socketPath?: string;
  readonly secret: string;
  readonly tls: boolean | ClientTlsOptions;
  readonly attrTimeoutSec: number;
  readonly entryTimeoutSec: number;
  /** False with --no-negative-lookups. */
  readonly negativeLookups: boolean;
  readonly identity: IdentityMode;
  readonly allowOther: boolean | undefined;
  readonly debug: boolean;
  readonly logLevel: string;
}

export interface MountCommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborting it unmounts and ends the command. */
  readonly signal: AbortSignal;
  /** Replaces checkFuseAvailable() (tests). */
  readonly preflight?: () => void;
}

function num(name: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${name} must be a number in 0..${max}`);
  return n;
}

/** Parses the arguments after `mount`; throws CAIRN_ERR_INVALID_ARGUMENT. */
export async function parseMountArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<MountArgs> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        secret: { type: 'string' },
        'secret-file': { type: 'string' },
        tls: { type: 'boolean' },
        ca: { type: 'string' },
        'attr-timeout': { type: 'string' },
        'entry-timeout': { type: 'string' },
        'no-negative-lookups': { type: 'boolean' },
        identity: { type: 'string' },
        'no-allow-other': { type: 'boolean' },
        debug: { type: 'boolean' },
        'log-level': { type: 'string' },
      },
    });
  } catch (err) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', err instanceof Error ? err.message : String(err));
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 2) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'expected VOLUME and MOUNTPOINT');
  const [volume, mountpoint] = positionals as [string, string];
  let secret = v.secret ?? env['CAIRN_SECRET'];
  if (v['secret-file'] !== undefined) {
    try {
      secret = (await readFile(v['secret-file'], 'utf8')).trim();
    } catch (err) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `cannot read --secret-file: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!secret) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'no secret: give --secret, --secret-file or $CAIRN_SECRET');
  const identity = v.identity ?? 'caller';
  if (identity !== 'caller' && identity !== 'mount') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', '--identity must be caller or mount');
  const port = num('--port', v.port, 7420, 65535);
  if (!Number.isInteger(port) || port === 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', '--port must be an integer in 1..65535');
  const host = v.host ?? '127.0.0.1';
  let socketPath: string | undefined;
  if (host.startsWith(UNIX_HOST_PREFIX)) {
    socketPath = host.slice(UNIX_HOST_PREFIX.length);
    if (socketPath === '') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', '--host unix: needs the socket\'s path (unix:/run/cairn/rpc.sock)');
    if (v.port !== undefined) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', '--port does not apply to a unix: socket');
    if (v.tls === true || v.ca !== undefined) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', '--tls and --ca do not apply to a unix: socket');
  }
  return {
    volume,
    mountpoint,
    host,
    port,
    ...(socketPath !== undefined ? { socketPath } : {}),
    secret,
    tls: v.ca !== undefined ? { caPath: v.ca } : v.tls === true,
    attrTimeoutSec: num('--attr-timeout', v['attr-timeout'], 1, 86_400),
    entryTimeoutSec: num('--entry-timeout', v['entry-timeout'], 1, 86_400),
    negativeLookups: v['no-negative-lookups'] !== true,
    identity,
    allowOther: v['no-allow-other'] === true ? false : undefined,
    debug: v.debug === true,
    logLevel: v['log-level'] ?? 'warn',
  };
}

function describe(err: unknown): string {
  if (isCairnError(err)) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

function exitCodeOf(err: unknown): number {
  if (isCairnError(err, 'CAIRN_ERR_RPC_ACCESS_DENIED')) return EXIT.AUTH;
  if (isCairnError(err, 'CAIRN_ERR_RPC_UNREACHABLE') || isCairnError(err, 'CAIRN_ERR_RPC_TIMEOUT')) return EXIT.UNREACHABLE;
  if (isCairnError(err, 'CAIRN_ERR_INVALID_ARGUMENT')) return EXIT.USAGE;
  return EXIT.ERROR;
}

/** Where the server is, as messages name it: host:port or unix:PATH. */
function serverName(a: MountArgs): string {
  return a.socketPath !== undefined ? `${UNIX_HOST_PREFIX}${a.socketPath}` : `${a.host}:${a.port}`;
}

/** One connection attempt (TCP or the socket), so that a wrong address fails in seconds rather than after the RPC deadline. */
function probe(a: MountArgs, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = a.socketPath !== undefined ? connect({ path: a.socketPath }) : connect({ host: a.host, port: a.port });
    const done = (err?: Error): void => {
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no answer within ${timeoutMs} ms`)));
    socket.once('connect', () => done());
    socket.once('error', (err) => done(err));
  });
}

/** Waits until `signal` aborts or `mountpoint` stops being a mount; says which. */
function served(signal: AbortSignal, mountpoint: string): Promise<'signal' | 'gone'> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      void isMounted(mountpoint).then((m) => {
        if (!m) finish('gone');
      });
    }, 1000);
    const finish = (why: 'signal' | 'gone'): void => {
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(why);
    };
    const onAbort = (): void => finish('signal');
    if (signal.aborted) finish('signal');
    else signal.addEventListener('abort', onAbort);
  });
}

/** Runs `cairn mount` with the arguments after the verb; resolves with the exit code. */
export async function runMountCommand(argv: readonly string[], io: MountCommandIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(MOUNT_USAGE);
    return EXIT.OK;
  }
  let args: MountArgs;
  try {
    args = await parseMountArgs(argv, io.env);
  } catch (err) {
    io.stderr(`cairn mount: ${describe(err)}\n\n${MOUNT_USAGE}`);
    return EXIT.USAGE;
  }
  try {
    (io.preflight ?? checkFuseAvailable)();
    await checkMountpoint(args.mountpoint);
  } catch (err) {
    io.stderr(`cairn mount: ${describe(err)}\n`);
    return exitCodeOf(err);
  }
  const logger = pino({ level: args.logLevel }, pino.destination(2));
  try {
    await probe(args);
  } catch (err) {
    io.stderr(`cairn mount: cannot reach ${serverName(args)}: ${describe(err)}\n`);
    return EXIT.UNREACHABLE;
  }
  let client: CairnClient;
  try {
    client = await CairnClient.connect({
      ...(args.socketPath !== undefined ? { socketPath: args.socketPath } : { host: args.host, port: args.port }),
      volume: args.volume,
      secret: args.secret,
      ...(args.tls !== false ? { tls: args.tls } : {}),
      logger,
      onRemount: () => logger.warn('the server had forgotten this mount: mounted again, open files are reopened on use'),
    });
  } catch (err) {
    io.stderr(`cairn mount: cannot mount volume ${args.volume} from ${serverName(args)}: ${describe(err)}\n`);
    return exitCodeOf(err);
  }
  try {
    const mount = await mountFuse({
      client,
      mountpoint: args.mountpoint,
      attrTimeoutSec: args.attrTimeoutSec,
      entryTimeoutSec: args.entryTimeoutSec,
      negativeLookups: args.negativeLookups,
      identity: args.identity,
      ...(args.allowOther !== undefined ? { allowOther: args.allowOther } : {}),
      debug: args.debug,
      logger,
    });
    io.stdout(`mounted ${args.volume} at ${mount.mountpoint} (Ctrl-C or fusermount -u ${mount.mountpoint} to unmount)\n`);
    const why = await served(io.signal, mount.mountpoint);
    await mount.unmount();
    io.stdout(why === 'gone' ? `${mount.mountpoint} was unmounted\n` : `unmounted ${mount.mountpoint}\n`);
    return EXIT.OK;
  } catch (err) {
    io.stderr(`cairn mount: ${describe(err)}\n`);
    return exitCodeOf(err);
  } finally {
    await client.close();
  }
}
