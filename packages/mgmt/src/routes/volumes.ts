// Volumes: list, create (format), serve, unserve, stats, the read-only switch
// and pausing deletions.

import { cairnError } from '@cairn/errors';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../server.js';
import { CreateVolumeBody, FlagBody, ServeBody, Volume, VolumeParams, VolumeStatsBody, errorResponses } from '../schemas.js';

interface VolumeRoute { Params: { volume: string } }

export function volumeRoutes(app: FastifyInstance, { port }: RouteDeps): void {
  const tags = ['volumes'];
  const one = { 200: Type.Ref(Volume), ...errorResponses };

  app.get('/v1/volumes', {
    schema: { tags, summary: 'List volumes', response: { 200: Type.Object({ volumes: Type.Array(Type.Ref(Volume)) }), ...errorResponses } },
  }, async () => ({ volumes: await port.listVolumes() }));

  app.post<{ Body: { name: string; dataContainers?: string[]; serve?: boolean } }>('/v1/volumes', {
    schema: {
      tags, summary: 'Create and format a volume (served at once unless serve is false)', body: CreateVolumeBody,
      response: { 201: Type.Ref(Volume), ...errorResponses },
    },
  }, async (req, reply) => {
    const v = await port.createVolume(req.body);
    return reply.code(201).send(v);
  });

  app.get<VolumeRoute>('/v1/volumes/:volume', {
    schema: { tags, summary: 'One volume', params: VolumeParams, response: one },
  }, async (req) => {
    const all = await port.listVolumes();
    const v = all.find((x) => x.name === req.params.volume);
    if (!v) throw notFound(req.params.volume);
    return v;
  });

  app.post<VolumeRoute & { Body: { force?: boolean } | undefined }>('/v1/volumes/:volume/serve', {
    schema: {
      tags, summary: 'Take ownership of the volume and serve it', params: VolumeParams, body: Type.Optional(ServeBody), response: one,
      description: 'force takes over an owner record left by a daemon that is known to be down.',
    },
  }, async (req) => port.serveVolume(req.params.volume, { force: req.body?.force === true }));

  app.post<VolumeRoute>('/v1/volumes/:volume/unserve', {
    schema: {
      tags, summary: 'Stop serving: finish in-flight operations, flush, final checkpoint, release ownership', params: VolumeParams, response: one,
    },
  }, async (req) => port.unserveVolume(req.params.volume));

  app.get<VolumeRoute>('/v1/volumes/:volume/stats', {
    schema: { tags, summary: 'Volume statistics', params: VolumeParams, response: { 200: Type.Ref(VolumeStatsBody), ...errorResponses } },
  }, async (req) => port.volumeStats(req.params.volume));

  app.put<VolumeRoute & { Body: { enabled: boolean } }>('/v1/volumes/:volume/read-only', {
    schema: { tags, summary: 'Switch the volume read-only (mutations answer EROFS) or back', params: VolumeParams, body: FlagBody, response: one },
  }, async (req) => port.setReadOnly(req.params.volume, req.body.enabled));

  app.post<VolumeRoute>('/v1/volumes/:volume/deletions/pause', {
    schema: { tags, summary: 'Hold back object deletions (dead segments, old metadata objects)', params: VolumeParams, response: one },
  }, async (req) => port.setDeletionsPaused(req.params.volume, true));

  app.post<VolumeRoute>('/v1/volumes/:volume/deletions/resume', {
    schema: { tags, summary: 'Resume object deletions', params: VolumeParams, response: one },
  }, async (req) => port.setDeletionsPaused(req.params.volume, false));
}

const notFound = (name: string): Error => cairnError('CAIRN_ERR_MGMT_NO_SUCH_VOLUME', name);
