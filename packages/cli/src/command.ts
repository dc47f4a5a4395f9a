// What a verb is: its words, usage, options, and run(). One file per verb in commands/.

import type { ParseArgsConfig } from 'node:util';
import type { MgmtClient } from './client.js';
import type { Output } from './output.js';

export interface CommandContext {
  readonly args: readonly string[];
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  readonly client: MgmtClient;
  readonly out: Output;
  /** Aborted on Ctrl-C. */
  readonly signal: AbortSignal;
}

export interface Command {
  /** The words that select it ("volume ls"). */
  readonly words: readonly string[];
  /** Positional arguments, for the usage line ("VOLUME NAME"). */
  readonly params: string;
  readonly summary: string;
  readonly options?: NonNullable<ParseArgsConfig['options']>;
  readonly minArgs: number;
  readonly maxArgs: number;
  run(ctx: CommandContext): Promise<number>;
}
