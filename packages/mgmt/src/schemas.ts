// JSON schemas of the management API's bodies and answers (TypeBox). Routes
// use them for validation and serialization; @fastify/swagger turns them into
// the OpenAPI document at /docs/json.

import { Type, type TSchema } from '@sinclair/typebox';

const Opt = Type.Optional;

export const VolumeName = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Volume name' });
export const SnapshotName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', description: 'Snapshot name' });

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'CAIRN_ERR_* code (docs/errors.md)' }),
    errno: Type.String(),
    message: Type.String(),
    details: Opt(Type.Record(Type.String(), Type.Unknown())),
  }),
  requestId: Type.String(),
}, { $id: 'Error', description: 'Every failure answers with this body' });

export const Volume = Type.Object({
  name: Type.String(),
  served: Type.Boolean(),
  owner: Opt(Type.String()),
  volumeId: Opt(Type.String()),
  createdAt: Opt(Type.String()),
  readOnly: Type.Boolean(),
  deletionsPaused: Type.Boolean(),
}, { $id: 'Volume' });

const Cache = Type.Object({ hits: Type.Number(), misses: Type.Number(), hitRate: Type.Number() });

export const Checkpoint = Type.Object({
  id: Type.Integer({ description: 'Checkpoint record number' }),
  publishedAt: Opt(Type.String()),
  bytes: Opt(Type.Integer()),
}, { $id: 'Checkpoint' });

export const VolumeStatsBody = Type.Object({
  name: Type.String(),
  volumeId: Type.String(),
  inodes: Type.Integer(),
  liveBytes: Type.Number(),
  storedBytes: Type.Number(),
  segments: Type.Integer(),
  deadSegments: Type.Integer(),
  liveRatio: Type.Number(),
  replayLogBytes: Type.Number(),
  lastCheckpoint: Opt(Type.Ref(Checkpoint)),
  dirtyFiles: Type.Integer(),
  openHandles: Type.Integer(),
  caches: Type.Object({ metadata: Opt(Cache), read: Opt(Cache) }),
}, { $id: 'VolumeStats' });

export const Snapshot = Type.Object({
  name: Type.String(),
  createdAt: Type.String({ description: 'ISO 8601 time of the snapshot' }),
  commit: Opt(Type.Integer({ description: 'Metadata commit number the snapshot shows' })),
  inodes: Opt(Type.Integer({ description: 'Inodes in use at the snapshot' })),
  liveBytes: Opt(Type.Integer({ description: 'File bytes the snapshot references' })),
}, { $id: 'Snapshot' });

export const Job = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  volume: Type.String(),
  state: Type.Union(['queued', 'running', 'succeeded', 'failed', 'canceled'].map((s) => Type.Literal(s))),
  createdAt: Type.String(),
  startedAt: Opt(Type.String()),
  finishedAt: Opt(Type.String()),
  progress: Type.Object({
    done: Type.Number(),
    total: Opt(Type.Number()),
    bytes: Type.Number(),
    unit: Opt(Type.String()),
    fraction: Opt(Type.Number()),
    rate: Type.Number({ description: 'units per second' }),
    bytesPerSecond: Type.Number(),
    etaSeconds: Opt(Type.Number()),
  }),
  result: Opt(Type.Record(Type.String(), Type.Unknown())),
  error: Opt(Type.Object({ code: Type.String(), message: Type.String() })),
}, { $id: 'Job' });

export const Status = Type.Object({
  nodeId: Type.String(),
  version: Type.String(),
  pid: Type.Integer(),
  startedAt: Type.String(),
  uptimeSeconds: Type.Number(),
  backend: Type.String(),
  ownership: Type.String(),
  listeners: Type.Array(Type.Object({ api: Type.String(), url: Type.String() })),
  volumes: Type.Array(Type.Ref(Volume)),
  jobsRunning: Type.Integer(),
  shuttingDown: Type.Boolean(),
}, { $id: 'Status' });

export const CreateVolumeBody = Type.Object({
  name: VolumeName,
  dataContainers: Opt(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  serve: Opt(Type.Boolean({ default: true })),
}, { additionalProperties: false });

export const ServeBody = Type.Object({ force: Opt(Type.Boolean()) }, { additionalProperties: false });
export const SnapshotBody = Type.Object({ name: SnapshotName }, { additionalProperties: false });
export const FlagBody = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });
export const JobBody = Type.Object({
  kind: Type.Union(['fsck', 'scrub', 'clean', 'orphan-sweep'].map((s) => Type.Literal(s))),
  params: Opt(Type.Record(Type.String(), Type.Unknown())),
}, { additionalProperties: false });

export const VolumeParams = Type.Object({ volume: VolumeName });
export const SnapshotParams = Type.Object({ volume: VolumeName, snapshot: SnapshotName });
export const JobParams = Type.Object({ id: Type.String() });

/** Every shared schema, added once with addSchema so $refs resolve (and appear in components). */
export const SHARED_SCHEMAS: readonly TSchema[] = [ErrorBody, Volume, Checkpoint, VolumeStatsBody, Snapshot, Job, Status];

export const errorResponses = {
  400: Type.Ref(ErrorBody), 401: Type.Ref(ErrorBody), 403: Type.Ref(ErrorBody), 404: Type.Ref(ErrorBody),
  409: Type.Ref(ErrorBody), 500: Type.Ref(ErrorBody), 501: Type.Ref(ErrorBody), 503: Type.Ref(ErrorBody),
};
