// @cairn/cli — the `cairn` command (bin: main.ts). runCli() runs one command
// line against given streams (tests); COMMANDS lists the verbs, one per file
// in commands/; EXIT names the exit codes.

export { runCli, usage, type CliIo } from './cli.js';
export { COMMANDS } from './commands/index.js';
export { EXIT } from './exit-codes.js';
export type { Command, CommandContext } from './command.js';
