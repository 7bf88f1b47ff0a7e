import { SsfError } from '../core/index.js';
import type { Io } from './command.js';

/** The root key passphrase: $SSF_ROOT_PASSPHRASE, else a prompt on a terminal, else undefined. */
export async function rootPassphrase(io: Io, purpose: string, confirm = false): Promise<string | undefined> {
  const env = io.env.SSF_ROOT_PASSPHRASE;
  if (env !== undefined && env !== '') return env;
  if (!io.isTty || !io.promptSecret) return undefined;
  const first = await io.promptSecret(`Root key passphrase (${purpose}): `);
  if (first === undefined) return undefined;
  if (confirm) {
    const again = await io.promptSecret('Repeat passphrase: ');
    if (again !== first) throw new SsfError('USAGE', 'the two passphrases differ');
  }
  return first;
}

/** Reads a line from the terminal with echo off. */
export function promptSecretTty(question: string): Promise<string | undefined> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let buf = '';
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done(buf);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          done(undefined);
          return;
        }
        if (ch === '\u007f') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    const done = (v: string | undefined): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      resolve(v);
    };
    stdin.on('data', onData);
  });
}
