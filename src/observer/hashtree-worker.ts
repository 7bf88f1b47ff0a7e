/**
 * A hashing worker: receives batches of tree-relative paths, hashes each (regular file or
 * symlink target) with one reused read buffer, and answers with the digests packed in one string.
 */
import { parentPort } from 'node:worker_threads';
import { hashRegularFile, hashSymlink, isFailure, READ_CHUNK } from './hashtree-file.js';
import type { BatchReply, BatchRequest } from './hashtree-pool.js';

const port = parentPort;
if (port === null) throw new Error('hashtree-worker must run as a worker thread');
const buf = Buffer.allocUnsafe(READ_CHUNK);

port.on('message', (m: BatchRequest) => {
  const n = m.paths.length;
  const hex: string[] = new Array<string>(n);
  const sizes = new Float64Array(n);
  const modes = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const abs = `${m.root}/${m.paths[i]!}`;
    const r = m.kinds[i] === 1 ? hashSymlink(abs) : hashRegularFile(abs, buf, true);
    if (isFailure(r)) {
      const reply: BatchReply = { id: m.id, failure: { index: i, code: r.code, message: r.message } };
      port.postMessage(reply);
      return;
    }
    hex[i] = r.sha256;
    sizes[i] = r.size;
    modes[i] = r.mode;
  }
  const reply: BatchReply = { id: m.id, hex: hex.join(''), sizes, modes };
  port.postMessage(reply, [sizes.buffer, modes.buffer]);
});
