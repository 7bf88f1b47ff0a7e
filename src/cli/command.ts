import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SsfError } from '../core/index.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Where a command writes; injected so tests can run commands in-process. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly isTty: boolean;
  /** Is standard output a terminal (live progress), as opposed to a pipe or file? */
  readonly outIsTty?: boolean;
  /** Writes without a newline (terminal progress); absent in tests. */
  write?(text: string): void;
  /** Reads a secret from the terminal without echo; undefined when there is no terminal. */
  promptSecret?(question: string): Promise<string | undefined>;
}

/** A CLI command: its help text, its flags, and what it does. Returns the exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  readonly positionals?: { min: number; max: number };
  run(args: ParsedArgs, io: Io): Promise<number>;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

/** Parses argv for a command; unknown flags and bad arity become USAGE errors. */
export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: argv, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (e) {
    throw new SsfError('USAGE', `${(e as Error).message.split('\n')[0]} (see \`ssf ${cmd.name} --help\`)`, { cause: e });
  }
  if (parsed.values.help) return parsed;
  const p = cmd.positionals ?? { min: 0, max: 0 };
  if (parsed.positionals.length < p.min) throw new SsfError('USAGE', `ssf ${cmd.name} needs ${p.min} argument${p.min === 1 ? '' : 's'} (see \`ssf ${cmd.name} --help\`)`);
  if (parsed.positionals.length > p.max) throw new SsfError('USAGE', `ssf ${cmd.name} takes at most ${p.max} argument${p.max === 1 ? '' : 's'}; unexpected ${JSON.stringify(parsed.positionals[p.max])}`);
  return parsed;
}

/** A string flag's value, or undefined. */
export function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable string flag's values. */
export function strs(a: ParsedArgs, name: string): string[] {
  const v = a.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

/** A required string flag. */
export function need(a: ParsedArgs, name: string, cmd: string): string {
  const v = str(a, name);
  if (v === undefined || v === '') throw new SsfError('USAGE', `ssf ${cmd} needs --${name} (see \`ssf ${cmd} --help\`)`);
  return v;
}

/** A positive integer flag. */
export function int(a: ParsedArgs, name: string): number | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(v)) throw new SsfError('USAGE', `--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}
