// The start message: where each API listens and how to reach it, with the
// generated credentials of the local default. Returned as text; main.ts
// prints it.

import type { StartInfo } from './daemon.js';
import { localPaths } from './paths.js';

const shown = (v: string, generated: boolean): string => (generated ? v : '(as configured)');

export function banner(i: StartInfo): string {
  const lines: string[] = [];
  const token = shown(i.adminToken.value, i.adminToken.generated);
  lines.push('', `cairnd is running: node ${i.nodeId}, pid ${process.pid}, ${i.backend} backend, data in ${i.dataDir}`, '');
  lines.push(`  Management API  ${i.mgmtUrl}   (OpenAPI: ${i.mgmtUrl}/docs)`);
  lines.push(`    admin token   ${token}`);
  if (i.adminToken.generated) lines.push(`    try           curl -H 'Authorization: Bearer ${token}' ${i.mgmtUrl}/v1/status`);
  lines.push('    CLI           npx cairn status   (finds this daemon through the data directory)');
  if (i.rpc) {
    lines.push(`  RPC API         tcp://${i.rpc.host}:${i.rpc.port}   (mount a volume with its secret)`);
  }
  if (i.rpcSocket) {
    lines.push(`  RPC API         unix:${i.rpcSocket}   (same host: cairn mount --host unix:${i.rpcSocket} ...)`);
  }
  if (i.objectApiUrl) {
    const key = shown(i.objectApi.key, i.objectApi.generated);
    lines.push(`  Object API      ${i.objectApiUrl}   (Swift: ${i.objectApiUrl}/auth/v1.0; S3: path-style at ${i.objectApiUrl})`);
    lines.push(`    user / key    <volume>:${i.objectApi.user} / ${key}`);
  }
  lines.push('', '  Volumes:');
  for (const v of i.volumes) {
    const state = v.error ? `NOT SERVED (${v.error})` : v.served ? 'served' : 'not served';
    lines.push(`    ${v.name.padEnd(14)} ${state}; RPC secret ${shown(v.secret, v.secretGenerated)}`);
    if (i.objectApiUrl && v.served && i.objectApi.generated) {
      lines.push(`      swift -A ${i.objectApiUrl}/auth/v1.0 -U ${v.name}:${i.objectApi.user} -K ${i.objectApi.key} list`);
    }
  }
  lines.push('', `  Generated credentials are kept in ${localPaths.credentials(i.dataDir)}.`);
  lines.push('  Stop with Ctrl-C or SIGTERM (graceful: in-flight work finishes, final checkpoints); SIGHUP reloads the configuration.', '');
  return lines.join('\n');
}
