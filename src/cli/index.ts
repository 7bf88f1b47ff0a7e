import { ERROR_CODES, isSsfError, toSsfError } from '../core/index.js';
import { parseCommandArgs, type Command, type Io } from './command.js';
import { initCommand } from './cmd-init.js';
import { attestCommand } from './cmd-attest.js';
import { verifyBundleCommand } from './cmd-verify-bundle.js';
import { caRotateCommand, revokeCommand } from './cmd-ca.js';
import { logCommand } from './cmd-log.js';
import { demoCommand } from './cmd-demo.js';
import { witnessCommand } from './cmd-witness.js';
import { promptSecretTty } from './passphrase.js';
import { runCommand, runsCommand, showCommand } from './cmd-run.js';
import { verifyCommand } from './cmd-verify.js';
import { lintCommand, pipelinePinCommand, pipelineSignCommand } from './cmd-pipeline.js';

/** Every command, by the words that name it. */
export const COMMANDS: readonly Command[] = [
  demoCommand, initCommand, runCommand, runsCommand, showCommand, verifyCommand, lintCommand, pipelineSignCommand, pipelinePinCommand,
  attestCommand, verifyBundleCommand, logCommand, witnessCommand, caRotateCommand, revokeCommand];

const VERSION = '0.1.0';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'ssf: a Secure Software Factory. Builds are isolated, observed and signed; anyone can verify the evidence.',
    '',
    'Usage: ssf <command> [options]        ssf <command> --help for details',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Data directory: --dir, else $SSF_DIR, else ./.ssf. Error codes: docs/errors.md.',
  ].join('\n');
}

/** The default terminal-bound I/O. */
export function processIo(): Io {
  return {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    env: process.env,
    isTty: Boolean(process.stdin.isTTY),
    outIsTty: Boolean(process.stdout.isTTY),
    write: (t) => process.stdout.write(t),
    promptSecret: promptSecretTty,
  };
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). Never throws. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    io.out(overview());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === 'version') {
    io.out(VERSION);
    return 0;
  }
  const two = second !== undefined ? `${first} ${second}` : '';
  const cmd = COMMANDS.find((c) => c.name === two) ?? COMMANDS.find((c) => c.name === first);
  if (!cmd) {
    const subs = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => `ssf ${c.name}`);
    if (subs.length > 0) {
      io.err(`ssf: error[USAGE]: ${JSON.stringify(first)} needs a subcommand: ${subs.join(', ')}`);
      return 2;
    }
    io.err(`ssf: error[USAGE]: unknown command ${JSON.stringify(first)}; run \`ssf --help\` for the list`);
    return 2;
  }
  const rest = argv.slice(cmd.name.split(' ').length);
  try {
    const args = parseCommandArgs(cmd, rest);
    if (args.values.help) {
      io.out(cmd.usage);
      return 0;
    }
    return await cmd.run(args, io);
  } catch (e) {
    const err = toSsfError(e);
    // One line, printable: a message may quote bytes from hostile input.
    const line = (err.message.split('\n')[0] ?? '').replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, (c) => (c === '\ufffd' ? '?' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).slice(0, 2000);
    io.err(`ssf: error[${err.code}]: ${line}`);
    if (io.env.SSF_DEBUG && err.cause) io.err(String((err.cause as Error).stack ?? err.cause));
    if (!isSsfError(e) && !io.env.SSF_DEBUG) io.err('  (unexpected failure; rerun with SSF_DEBUG=1 for details)');
    return err.code === 'USAGE' ? 2 : 1;
  }
}

export { ERROR_CODES };
