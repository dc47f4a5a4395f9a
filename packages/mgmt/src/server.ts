// The management HTTP server: fastify with a request id on every request
// (X-Request-Id in and out, on every log line), bearer-token auth, the error
// table mapped to HTTP, OpenAPI at /docs, and the route modules.

import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { cairnError, isCairnError, toCairnError, type CairnError } from '@cairn/errors';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { TokenAuth, isPublicPath, type TokenSet } from './auth.js';
import type { JobManager } from './jobs.js';
import type { CairnMetrics } from './metrics.js';
import type { ManagementPort } from './port.js';
import { checkpointRoutes, snapshotRoutes } from './routes/checkpoints.js';
import { jobRoutes } from './routes/jobs.js';
import { systemRoutes } from './routes/system.js';
import { volumeRoutes } from './routes/volumes.js';
import { SHARED_SCHEMAS } from './schemas.js';

export interface MgmtServerOptions {
  readonly port: ManagementPort;
  readonly jobs: JobManager;
  readonly metrics: CairnMetrics;
  readonly tokens: TokenSet;
  readonly logger: Logger;
  /** Serve /docs (Swagger UI) and /docs/json (default true). */
  readonly docs?: boolean;
  readonly bodyLimitBytes?: number;
  /** Version string in the OpenAPI document. */
  readonly version?: string;
}

export interface RouteDeps {
  readonly port: ManagementPort;
  readonly jobs: JobManager;
  readonly metrics: CairnMetrics;
}

export interface MgmtServer {
  /** Listens; resolves with the URL. */
  listen(host: string, port: number): Promise<string>;
  /** Replaces the tokens (SIGHUP). */
  setTokens(tokens: TokenSet): void;
  /** The OpenAPI document (after ready). */
  openapi(): Promise<Record<string, unknown>>;
  /** The fastify instance (tests use inject()). */
  readonly app: FastifyInstance;
  /** Stops accepting and waits for in-flight requests. */
  close(): Promise<void>;
}

function errorBody(e: CairnError, requestId: string): Record<string, unknown> {
  return { error: e.toJSON(), requestId };
}

/** Turns fastify's validation message ("body/name must match pattern ...") into one that names the field. */
function validationError(err: FastifyError): CairnError {
  const first = err.validation?.[0];
  const where = err.validationContext ?? 'request';
  if (first) {
    const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const field = first.keyword === 'required' ? String((first.params as { missingProperty?: string }).missingProperty)
      : first.keyword === 'additionalProperties' ? String((first.params as { additionalProperty?: string }).additionalProperty)
        : path;
    const problem = first.keyword === 'additionalProperties' ? 'unknown field' : first.keyword === 'required' ? 'is required' : first.message ?? 'is invalid';
    return cairnError('CAIRN_ERR_MGMT_BAD_REQUEST', `${where}${field ? `.${field}` : ''}: ${problem}`);
  }
  return cairnError('CAIRN_ERR_MGMT_BAD_REQUEST', err.message);
}

export async function createMgmtServer(o: MgmtServerOptions): Promise<MgmtServer> {
  const auth = new TokenAuth(o.tokens);
  const app: FastifyInstance = Fastify({
    loggerInstance: o.logger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: o.bodyLimitBytes ?? 1024 * 1024,
    disableRequestLogging: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }) as unknown as FastifyInstance;
  for (const s of SHARED_SCHEMAS) app.addSchema(s);

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
    if (isPublicPath(req.url)) return;
    auth.check(req.headers.authorization, req.method);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    o.metrics.meter.http('mgmt', req.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    let e: CairnError;
    if (err.validation) e = validationError(err);
    else if (isCairnError(err)) e = err;
    else if (err.statusCode === 413) e = cairnError('CAIRN_ERR_MGMT_BAD_REQUEST', 'body too large');
    else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) e = cairnError('CAIRN_ERR_MGMT_BAD_REQUEST', err.message);
    else e = toCairnError(err);
    const status = err.statusCode === 413 ? 413 : e.status;
    if (status >= 500) req.log.error({ err }, 'management request failed');
    else req.log.info({ code: e.code, msg: e.message }, 'management request refused');
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="cairn"');
    return reply.code(status).send(errorBody(e, req.id));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = cairnError('CAIRN_ERR_MGMT_BAD_REQUEST', `no route ${req.method} ${req.url.split('?')[0]}`);
    return reply.code(404).send(errorBody(e, req.id));
  });

  if (o.docs !== false) {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Cairn management API',
          version: o.version ?? '0.1.0',
          description: 'Volumes, checkpoints, snapshots, jobs with progress, metrics and health of one cairnd. '
            + 'Every call but /healthz, /readyz and /docs needs `Authorization: Bearer <token>`; read-only tokens may only GET.',
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
        tags: ['volumes', 'checkpoints', 'snapshots', 'jobs', 'status', 'health', 'metrics'].map((name) => ({ name })),
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  }

  const deps: RouteDeps = { port: o.port, jobs: o.jobs, metrics: o.metrics };
  volumeRoutes(app, deps);
  checkpointRoutes(app, deps);
  snapshotRoutes(app, deps);
  jobRoutes(app, deps);
  systemRoutes(app, deps);
  await app.ready();

  return {
    app,
    async listen(host, port) {
      await app.listen({ host, port });
      const addr = app.server.address();
      const p = typeof addr === 'object' && addr ? addr.port : port;
      const h = host.includes(':') ? `[${host}]` : host;
      return `http://${h}:${p}`;
    },
    setTokens(tokens) {
      auth.set(tokens);
    },
    async openapi() {
      return app.swagger() as unknown as Record<string, unknown>;
    },
    close: () => app.close(),
  };
}
