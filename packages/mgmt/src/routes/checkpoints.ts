// Checkpoints and snapshots of a volume.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../server.js';
import { Checkpoint, Snapshot, SnapshotBody, SnapshotParams, VolumeParams, errorResponses } from '../schemas.js';

interface VolumeRoute { Params: { volume: string } }

export function checkpointRoutes(app: FastifyInstance, { port }: RouteDeps): void {
  app.post<VolumeRoute>('/v1/volumes/:volume/checkpoints', {
    schema: {
      tags: ['checkpoints'], summary: 'Write and publish a checkpoint now; answers once it is published, with its id',
      params: VolumeParams, response: { 201: Type.Ref(Checkpoint), ...errorResponses },
    },
  }, async (req, reply) => reply.code(201).send(await port.checkpoint(req.params.volume)));

  app.get<VolumeRoute & { Querystring: { limit?: number } }>('/v1/volumes/:volume/checkpoints', {
    schema: {
      tags: ['checkpoints'], summary: 'Recent checkpoints, newest first', params: VolumeParams,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })) }),
      response: { 200: Type.Object({ checkpoints: Type.Array(Type.Ref(Checkpoint)) }), ...errorResponses },
    },
  }, async (req) => ({ checkpoints: await port.listCheckpoints(req.params.volume, req.query.limit ?? 10) }));
}

export function snapshotRoutes(app: FastifyInstance, { port }: RouteDeps): void {
  const tags = ['snapshots'];
  app.post<VolumeRoute & { Body: { name: string } }>('/v1/volumes/:volume/snapshots', {
    schema: {
      tags, summary: 'Create a snapshot of the volume as of now', params: VolumeParams, body: SnapshotBody,
      response: { 201: Type.Ref(Snapshot), ...errorResponses },
    },
  }, async (req, reply) => reply.code(201).send(await port.createSnapshot(req.params.volume, req.body.name)));

  app.get<VolumeRoute>('/v1/volumes/:volume/snapshots', {
    schema: { tags, summary: 'List snapshots', params: VolumeParams, response: { 200: Type.Object({ snapshots: Type.Array(Type.Ref(Snapshot)) }), ...errorResponses } },
  }, async (req) => ({ snapshots: await port.listSnapshots(req.params.volume) }));

  app.delete<{ Params: { volume: string; snapshot: string } }>('/v1/volumes/:volume/snapshots/:snapshot', {
    schema: { tags, summary: 'Delete a snapshot (its objects are reclaimed later)', params: SnapshotParams, response: { 204: Type.Null(), ...errorResponses } },
  }, async (req, reply) => {
    await port.deleteSnapshot(req.params.volume, req.params.snapshot);
    return reply.code(204).send();
  });
}
