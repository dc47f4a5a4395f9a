// The configuration schema of cairnd: every key, its type, its default and a
// description, in one place. The loader (load.ts) validates a YAML file
// against it; docs/configuration.md and config/cairn.example.yaml are
// generated from it (gen-docs.ts) and a test keeps them in sync.

import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  DEFAULT_CACHE_BYTES, DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_CHECKPOINT_LOG_BYTES, DEFAULT_COMPACT_BELOW,
  DEFAULT_COMPACT_BYTES_PER_CHECKPOINT, DEFAULT_DELETES_PER_SECOND, DEFAULT_RETAIN_CHECKPOINTS,
} from '@cairn/headhunter';

const MiB = 1024 * 1024;

/** Default ports of the three APIs (loopback by default). */
export const DEFAULT_MGMT_PORT = 7480;
export const DEFAULT_OBJECT_PORT = 7481;
export const DEFAULT_RPC_PORT = 7482;
/** Name of the volume a configuration without `volumes` serves. */
export const DEFAULT_VOLUME = 'vol1';

const obj = <T extends Record<string, TSchema>>(props: T, description: string) =>
  Type.Object(props, { additionalProperties: false, default: {}, description });
const port = (d: number, description: string) => Type.Integer({ minimum: 0, maximum: 65535, default: d, description });
const posInt = (d: number, description: string) => Type.Integer({ minimum: 1, default: d, description });
const nonNegInt = (d: number, description: string) => Type.Integer({ minimum: 0, default: d, description });
const str = (d: string, description: string) => Type.String({ default: d, description });
const bool = (d: boolean, description: string) => Type.Boolean({ default: d, description });
const strList = (description: string) => Type.Array(Type.String({ minLength: 1 }), { default: [], description });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const logLevel = Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: 'info', description: 'pino log level' });

const volumeSchema = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Volume name: also the object-store container of its metadata' }),
  serve: bool(true, 'Serve the volume at start (the runtime state from `cairn volume serve/unserve` wins after the first start)'),
  format: bool(true, 'Format the volume at start when the object store holds no such volume'),
  secret: str('', 'RPC mount secret of the volume; empty: generated at first start and kept in <dataDir>/credentials.json'),
  dataContainers: strList('Containers segments are spread over (default: [<name>-data]); fixed when the volume is formatted'),
}, { additionalProperties: false, description: 'One volume' });

export const configSchema = Type.Object({
  dataDir: str('./data', 'Local state: replay logs, lock files, generated credentials, and the fs backend objects'),
  nodeId: str('', 'Name of this daemon in ownership records; empty: generated once and kept in <dataDir>/node.json'),
  log: obj({
    level: logLevel,
    format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
      default: 'auto', description: 'auto: pretty on a terminal, JSON otherwise',
    }),
  }, 'Logging'),
  listen: obj({
    host: str('127.0.0.1', 'Address every API listens on'),
  }, 'Network'),
  mgmt: obj({
    port: port(DEFAULT_MGMT_PORT, 'Management API port (0: any free port)'),
    adminToken: str('', 'Bearer token for every management call; empty: generated at first start and kept in <dataDir>/credentials.json'),
    readTokens: strList('Bearer tokens that may only read (monitoring): mutations answer 403'),
    docs: bool(true, 'Serve the OpenAPI document and Swagger UI at /docs (no token needed)'),
    bodyLimitBytes: posInt(MiB, 'Largest request body'),
  }, 'Management API (volumes, checkpoints, snapshots, jobs, metrics, health)'),
  rpc: obj({
    enabled: bool(true, 'Serve the filesystem RPC API (NFS/SMB/FUSE frontends)'),
    port: port(DEFAULT_RPC_PORT, 'RPC port (0: any free port)'),
    tcp: bool(true, 'Listen on TCP (listen.host, rpc.port); false: only on socketPath'),
    socketPath: str('', 'Also serve the RPC API on this Unix-domain socket, for frontends on the same host (cairn mount --host unix:PATH); relative: to dataDir; empty: off. Removed on shutdown; a stale socket left by a crash is replaced; a path that exists and is not a socket is refused'),
    socketMode: Type.String({ pattern: '^0?[0-7]{3}$', default: '0600', description: 'File mode of socketPath, octal (0600: only the daemon\'s user may connect; 0660: its group too)' }),
    maxConnections: nonNegInt(0, 'Most simultaneous RPC connections, TCP and socket together (0: unlimited)'),
  }, 'Filesystem RPC API'),
  objectApi: obj({
    enabled: bool(true, 'Serve the Swift/S3 object API'),
    port: port(DEFAULT_OBJECT_PORT, 'Object API port (0: any free port)'),
    swift: bool(true, 'Answer Swift requests (/auth/v1.0, /v1/...)'),
    s3: bool(true, 'Answer S3 (SigV4) requests'),
    user: str('admin', 'User of each volume\'s account: Swift login <volume>:<user>, S3 access key <volume>:<user>'),
    key: str('', 'Swift key and S3 secret of those users; empty: generated at first start and kept in <dataDir>/credentials.json'),
    maxObjectBytes: posInt(5 * 1024 * MiB, 'Largest object accepted'),
  }, 'Swift/S3 object API'),
  backend: obj({
    kind: Type.Union([Type.Literal('fs'), Type.Literal('memory'), Type.Literal('s3'), Type.Literal('swift')], {
      default: 'fs', description: 'Object store: fs (embedded, a local directory), memory (tests), s3, swift',
    }),
    selfCheck: bool(true, 'Run the object-store self-check at start and refuse to start when it fails'),
    fs: obj({
      root: str('', 'Directory of the embedded store; empty: <dataDir>/objects'),
      fsync: bool(true, 'fsync objects before a put returns'),
    }, 'Embedded fs backend'),
    s3: obj({
      endpoint: str('', 'S3 endpoint URL, e.g. http://127.0.0.1:8080'),
      region: str('us-east-1', 'Signing region'),
      accessKeyId: str('', 'Access key'),
      secretAccessKey: str('', 'Secret key'),
      forcePathStyle: bool(true, 'Path-style bucket addressing'),
      requestTimeoutMs: posInt(30_000, 'Timeout of one request'),
    }, 'S3 backend'),
    swift: obj({
      authUrl: str('', 'Auth URL, e.g. http://127.0.0.1:8080/auth/v1.0'),
      user: str('', 'User (v1: account:user)'),
      key: str('', 'Key / password'),
      storageUrl: str('', 'Storage URL to use instead of the one auth returns'),
      requestTimeoutMs: posInt(30_000, 'Timeout of one request'),
    }, 'OpenStack Swift backend'),
  }, 'Where data and metadata objects live'),
  volumes: Type.Array(volumeSchema, {
    default: [{ name: DEFAULT_VOLUME, serve: true, format: true, secret: '', dataContainers: [] }],
    description: 'Volumes this daemon knows at start (reloaded on SIGHUP)',
  }),
  limits: obj({
    checkpointIntervalMs: posInt(DEFAULT_CHECKPOINT_INTERVAL_MS, 'Checkpoint this often while anything changed'),
    checkpointLogBytes: posInt(DEFAULT_CHECKPOINT_LOG_BYTES, 'Checkpoint when the replay log holds more than this'),
    retainCheckpoints: posInt(DEFAULT_RETAIN_CHECKPOINTS, 'Checkpoints kept for fallback, the newest included'),
    metadataCacheBytes: posInt(DEFAULT_CACHE_BYTES, 'B+Tree node cache per volume'),
    readCacheBytes: posInt(64 * MiB, 'Segment read cache per volume'),
    maxReadAheadBytes: posInt(16 * MiB, 'Largest read-ahead window of one sequential reader (read-ahead as a whole holds at most half the read cache)'),
    compactBelow: Type.Number({
      minimum: 0, maximum: 1, default: DEFAULT_COMPACT_BELOW,
      description: 'A metadata node object whose live bytes fall below this fraction of its size is rewritten by the next checkpoints (0: never)',
    }),
    compactBytesPerCheckpoint: nonNegInt(DEFAULT_COMPACT_BYTES_PER_CHECKPOINT, 'Most live node bytes one checkpoint rewrites out of sparse objects'),
    deletesPerSecond: posInt(DEFAULT_DELETES_PER_SECOND, 'Object deletions per second of the metadata reclaimer'),
    maxFlushSize: posInt(10 * MiB, 'A log segment closes at this many bytes'),
    maxFlushTimeMs: posInt(10_000, 'A log segment closes this long after it opened'),
    maxOpenSegments: posInt(8, 'Log segments open for appends at once, per volume'),
    intentLogMaxFileBytes: nonNegInt(256 * 1024, 'fsync of a file with at most this many pending bytes (and an object PUT this small) is made durable through the replay log instead of waiting for a segment PUT (0: never)'),
    intentLogMaxBytes: posInt(64 * MiB, 'Bytes the intent log holds at once per volume, until their segments are stored (beyond: fsync stores segments)'),
    maxConcurrentJobs: posInt(2, 'fsck/scrub/clean/orphan-sweep jobs running at once (others queue)'),
    fsync: bool(true, 'fdatasync the replay log before acknowledging (false only for tests and benchmarks)'),
  }, 'Tuning (reloaded on SIGHUP; volume limits apply to volumes served after the reload)'),
  ownership: obj({
    mode: Type.Union([Type.Literal('local')], { default: 'local', description: 'local: a lock file per volume plus fenced checkpoint publication (etcd: later)' }),
  }, 'Volume ownership'),
  fencing: obj({
    kind: Type.Union([Type.Literal('objstore'), Type.Literal('etcd')], {
      default: 'objstore',
      description: 'Who decides which process publishes a volume\'s next checkpoint: objstore (create-if-absent PUTs; atomic on the fs backend, not on Swift) or etcd (a compare-and-swap; strict on every backend)',
    }),
    etcd: obj({
      endpoints: strList('etcd client URLs, e.g. http://127.0.0.1:2379 (required with fencing.kind etcd)'),
      prefix: str('/cairn', 'Key prefix of Cairn\'s etcd keys: every daemon serving the same volumes uses the same one'),
      requestTimeoutMs: posInt(5_000, 'Deadline of one etcd request'),
    }, 'etcd fencing (fencing.kind etcd)'),
  }, 'Checkpoint fencing: two processes serving one volume never both publish (docs/operations.md "Fencing on Swift")'),
  snapshots: obj({
    intervalMs: nonNegInt(0, 'Take a scheduled snapshot of every served volume this often (0: no schedule)'),
    keep: nonNegInt(24, 'Scheduled snapshots kept per volume, the newest; older ones are deleted after each new one'),
    prefix: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$', default: 'auto-',
      description: 'Name prefix of scheduled snapshots (they are named <prefix><UTC time>); snapshots without it are never deleted by the schedule',
    }),
  }, 'Scheduled snapshots (reloaded on SIGHUP)'),
  shutdown: obj({
    timeoutMs: posInt(120_000, 'Longest graceful shutdown before cairnd exits with an error'),
  }, 'Shutdown'),
}, { additionalProperties: false });

export type CairnConfig = Static<typeof configSchema>;
export type VolumeConfigEntry = Static<typeof volumeSchema>;
