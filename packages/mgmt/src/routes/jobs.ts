// Jobs: start (POST), poll (GET) with progress, cancel.

import { cairnError } from '@cairn/errors';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { JobKind } from '../jobs.js';
import type { RouteDeps } from '../server.js';
import { Job, JobBody, JobParams, VolumeParams, errorResponses } from '../schemas.js';

export function jobRoutes(app: FastifyInstance, { port, jobs }: RouteDeps): void {
  const tags = ['jobs'];
  app.post<{ Params: { volume: string }; Body: { kind: JobKind; params?: Record<string, unknown> } }>('/v1/volumes/:volume/jobs', {
    schema: {
      tags, summary: 'Start a job (fsck, scrub, clean, orphan-sweep) on a served volume; one of each kind per volume at a time',
      params: VolumeParams, body: JobBody, response: { 202: Type.Ref(Job), ...errorResponses },
    },
  }, async (req, reply) => {
    const vols = await port.listVolumes();
    const v = vols.find((x) => x.name === req.params.volume);
    if (!v) throw noVolume(req.params.volume);
    if (!v.served) throw notServed(req.params.volume);
    const job = jobs.start(req.body.kind, req.params.volume, req.body.params ?? {});
    return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(job);
  });

  app.get<{ Querystring: { volume?: string; kind?: JobKind } }>('/v1/jobs', {
    schema: {
      tags, summary: 'Jobs, newest first',
      querystring: Type.Object({ volume: Type.Optional(Type.String()), kind: Type.Optional(Type.String()) }),
      response: { 200: Type.Object({ jobs: Type.Array(Type.Ref(Job)) }), ...errorResponses },
    },
  }, async (req) => ({
    jobs: jobs.list({ ...(req.query.volume ? { volume: req.query.volume } : {}), ...(req.query.kind ? { kind: req.query.kind } : {}) }),
  }));

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', {
    schema: { tags, summary: 'One job with its progress (done/total, bytes, rate, ETA) and, once finished, its result', params: JobParams, response: { 200: Type.Ref(Job), ...errorResponses } },
  }, async (req) => jobs.get(req.params.id));

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', {
    schema: { tags, summary: 'Cancel a queued or running job', params: JobParams, response: { 200: Type.Ref(Job), ...errorResponses } },
  }, async (req) => jobs.cancel(req.params.id));
}

const noVolume = (name: string): Error => cairnError('CAIRN_ERR_MGMT_NO_SUCH_VOLUME', name);
const notServed = (name: string): Error => cairnError('CAIRN_ERR_MGMT_NOT_SERVED', name);
