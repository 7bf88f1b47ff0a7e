import { Factory, resolveDataDir } from '../factory/index.js';
import { str, type Command } from './command.js';

export const logCommand: Command = {
  name: 'log',
  summary: 'show the transparency log\'s latest signed checkpoint',
  usage: `Usage: ssf log [--dir D] [--json]

Prints the latest signed checkpoint (C2SP tlog-checkpoint signed note) of the
factory's transparency log and the number of stored evidence records.

Options:
  --dir D     factory data directory
  --json      print as JSON
  -h, --help  show this help`,
  options: { dir: { type: 'string' }, json: { type: 'boolean' } },
  async run(a, io) {
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const cp = f.log.latestCheckpoint();
      const count = f.evidence.count();
      if (a.values.json) {
        io.out(JSON.stringify({ size: cp?.size ?? 0, rootHash: cp ? cp.rootHash.toString('base64') : null, checkpoint: cp?.note ?? null, evidence: count }));
      } else if (!cp) {
        io.out('the log is empty');
      } else {
        io.out(`size ${cp.size}, ${count} evidence records; latest checkpoint:`);
        io.out(cp.note.trimEnd());
      }
    } finally {
      f.close();
    }
    return 0;
  },
};
