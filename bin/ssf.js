#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install`/`npm ci` (the prepare script).
import { main } from '../dist/src/cli/index.js';
// A reader that goes away (`ssf log | head -1`) is not an error worth a stack trace.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });
}
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
