// The cairn command: picks the verb, parses its options with the global ones
// (--server, --token, --data-dir, --json), runs it, and maps failures to exit
// codes (exit-codes.ts).

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, MgmtClient } from './client.js';
import type { Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { EXIT } from './exit-codes.js';
import { createOutput } from './output.js';
import { resolveTarget } from './target.js';

const GLOBAL: NonNullable<ParseArgsConfig['options']> = {
  server: { type: 'string' },
  token: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly isTTY: boolean;
  readonly signal?: AbortSignal;
}

export function usage(): string {
  const lines = ['usage: cairn <command> [options]', '', 'commands:'];
  for (const c of COMMANDS) lines.push(`  ${`${c.words.join(' ')} ${c.params}`.trim().padEnd(30)} ${c.summary}`);
  lines.push('', 'options:',
    '  --server URL      management API address (default: $CAIRN_SERVER, else the daemon found in the data directory)',
    '  --token TOKEN     bearer token (default: $CAIRN_TOKEN or $CAIRN_ADMIN_TOKEN, else the local admin token)',
    '  --data-dir DIR    data directory of a local daemon (default: $CAIRN_DATA_DIR, else ./data)',
    '  --json            machine-readable output',
    '', 'exit codes: 0 ok, 1 error, 2 usage, 3 daemon unreachable, 4 auth, 5 not found, 6 conflict, 7 problems found, 8 canceled, 9 not supported');
  return lines.join('\n');
}

function pick(argv: readonly string[]): { cmd: Command; rest: string[] } | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  for (const c of [...COMMANDS].sort((a, b) => b.words.length - a.words.length)) {
    if (c.words.every((w, i) => words[i] === w)) {
      const rest = [...argv];
      for (const w of c.words) rest.splice(rest.indexOf(w), 1);
      return { cmd: c, rest };
    }
  }
  return undefined;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const wantsJson = argv.includes('--json');
  const out = createOutput(wantsJson, io.stdout, io.stderr, io.isTTY);
  const picked = pick(argv);
  if (!picked) {
    if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
      out.line(usage());
      return argv.length === 0 ? EXIT.USAGE : EXIT.OK;
    }
    out.err(`cairn: unknown command "${argv.filter((a) => !a.startsWith('-')).join(' ')}"\n\n${usage()}`);
    return EXIT.USAGE;
  }
  const { cmd, rest } = picked;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL, ...(cmd.options ?? {}) }, allowPositionals: true, strict: true });
  } catch (err) {
    out.err(`cairn ${cmd.words.join(' ')}: ${(err as Error).message}`);
    return EXIT.USAGE;
  }
  const usageLine = `usage: cairn ${cmd.words.join(' ')} ${cmd.params}`.trim();
  if (parsed.values.help) {
    out.line(`${usageLine}\n  ${cmd.summary}`);
    return EXIT.OK;
  }
  if (parsed.positionals.length < cmd.minArgs || parsed.positionals.length > cmd.maxArgs) {
    out.err(usageLine);
    return EXIT.USAGE;
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const target = resolveTarget({
    ...(typeof v['server'] === 'string' ? { server: v['server'] } : {}),
    ...(typeof v['token'] === 'string' ? { token: v['token'] } : {}),
    ...(typeof v['data-dir'] === 'string' ? { dataDir: v['data-dir'] } : {}),
  }, io.env, io.cwd);
  try {
    return await cmd.run({
      args: parsed.positionals, flags: v, client: new MgmtClient(target), out, signal: io.signal ?? new AbortController().signal,
    });
  } catch (err) {
    if (err instanceof CliError) {
      if (out.json) out.value({ error: { code: err.code ?? 'CLI', message: err.message, exitCode: err.exitCode } });
      out.err(`cairn ${cmd.words.join(' ')}: ${err.code ? `${err.code}: ` : ''}${err.message}`);
      return err.exitCode;
    }
    out.err(`cairn ${cmd.words.join(' ')}: ${(err as Error).message}`);
    return EXIT.ERROR;
  }
}
