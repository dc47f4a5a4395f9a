// The one place CairnErrors become HTTP answers: Swift gets the status with a
// plain-text body (or JSON when the client accepts only JSON), S3 gets the
// status with an XML <Error> body carrying the S3 code. Unknown exceptions
// become CAIRN_ERR_INTERNAL (500) and are logged with their stack; client
// errors (4xx) are logged at debug level only.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { toCairnError, type CairnError } from '@cairn/errors';
import { textEl, xmlDocument } from './xml.js';

/** Swift answers these with a reason phrase like "Not Found". */
const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Request Entity Too Large',
  416: 'Requested Range Not Satisfiable', 422: 'Unprocessable Entity', 500: 'Internal Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 507: 'Insufficient Storage',
};

function logError(req: FastifyRequest, e: CairnError, raw: unknown): void {
  if (e.status >= 500) req.log.error({ err: raw, code: e.code }, e.message);
  else req.log.debug({ code: e.code, status: e.status }, e.message);
}

/** Sends a Swift error answer. */
export function sendSwiftError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const e = toCairnError(err);
  logError(req, e, err);
  reply.code(e.status);
  if (e.status === 416 && e.details?.['size'] !== undefined) reply.header('content-range', `bytes */${String(e.details['size'])}`);
  if (req.method === 'HEAD') return reply.header('content-length', '0').send();
  const accept = String(req.headers.accept ?? '');
  if (/application\/json/.test(accept) && !/text\/(plain|html)/.test(accept)) {
    return reply.type('application/json; charset=utf-8').send(JSON.stringify({ code: e.code, status: e.status, message: e.message }));
  }
  return reply.type('text/plain; charset=utf-8').send(`${REASONS[e.status] ?? 'Error'}: ${e.message}\n`);
}

/** The XML body of an S3 error. */
export function s3ErrorBody(e: CairnError, resource: string, requestId: string): string {
  const details = e.details ?? {};
  const extra: string[] = [];
  if (e.s3Code === 'SignatureDoesNotMatch') {
    extra.push(textEl('StringToSign', details['stringToSign'] as string | undefined));
    extra.push(textEl('CanonicalRequest', details['canonicalRequest'] as string | undefined));
  }
  return xmlDocument('Error', [
    textEl('Code', e.s3Code),
    textEl('Message', e.message),
    textEl('Resource', resource),
    textEl('RequestId', requestId),
    ...extra,
  ]);
}

/** Sends an S3 error answer. */
export function sendS3Error(req: FastifyRequest, reply: FastifyReply, err: unknown, resource: string): FastifyReply {
  const e = toCairnError(err);
  logError(req, e, err);
  reply.code(e.status);
  if (e.status === 416 && e.details?.['size'] !== undefined) reply.header('content-range', `bytes */${String(e.details['size'])}`);
  if (req.method === 'HEAD') return reply.header('content-length', '0').send();
  return reply.type('application/xml').send(s3ErrorBody(e, resource, String(req.id)));
}
