// Health, readiness, status and Prometheus metrics.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../server.js';
import { Status, errorResponses } from '../schemas.js';

export function systemRoutes(app: FastifyInstance, { port, metrics }: RouteDeps): void {
  app.get('/healthz', {
    schema: { tags: ['health'], security: [], summary: 'Liveness: 200 while the process answers (no token needed)', response: { 200: Type.Object({ ok: Type.Boolean() }) } },
  }, async () => ({ ok: true }));

  app.get('/readyz', {
    schema: {
      tags: ['health'], security: [], summary: 'Readiness: 200 once started and serving every volume it should, 503 otherwise (no token needed)',
      response: { 200: Type.Object({ ready: Type.Boolean(), reason: Type.Optional(Type.String()) }), 503: Type.Object({ ready: Type.Boolean(), reason: Type.Optional(Type.String()) }) },
    },
  }, async (_req, reply) => {
    const r = port.readiness();
    return reply.code(r.ready ? 200 : 503).send(r);
  });

  app.get('/v1/status', {
    schema: { tags: ['status'], summary: 'Daemon status: node, listeners, volumes, jobs', response: { 200: Type.Ref(Status), ...errorResponses } },
  }, async () => port.status());

  app.get('/metrics', {
    schema: { tags: ['metrics'], summary: 'Prometheus metrics (text exposition format; a read token is enough)', produces: ['text/plain'] },
  }, async (_req, reply) => {
    const text = await metrics.render();
    return reply.type(metrics.contentType).send(text);
  });
}
