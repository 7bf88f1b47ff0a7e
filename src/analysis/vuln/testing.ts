import { deflateRawSync, crc32 } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Component, Sbom } from '../model.js';

/** Test helpers for the vuln part (not part of its public face). */

/** The project's vectors/osv folder, resolved from the compiled test file. */
export const OSV_VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../../../vectors/osv');

/** One entry of a zip written by zipBytes. */
export interface ZipInput {
  name: string;
  data: Buffer | string;
  /** Deflate (8) or store (0). Default deflate. */
  method?: 0 | 8;
}

/**
 * Writes a zip archive (PKWARE APPNOTE 6.3: local headers, central directory, end record;
 * no zip64). Used to craft archives the zip command will not make: hostile names, bombs.
 */
export function zipBytes(entries: readonly ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
    const method = e.method ?? 8;
    const body = method === 8 ? deflateRawSync(data) : data;
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** An npm component for test SBOMs. */
export function npmComponent(name: string, version: string): Component {
  const purl = `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${version}`;
  return { ref: purl, ecosystem: 'npm', name, version, purl, hashes: [], scope: 'required', paths: [`node_modules/${name}`] };
}

/** A minimal SBOM holding the given components. */
export function sbomOf(components: Component[]): Sbom {
  return {
    root: { ref: 'root', name: 'app', version: '1.0.0' },
    components,
    dependencies: [{ ref: 'root', dependsOn: components.map((c) => c.ref) }],
    source: { kind: 'npm-lockfile', digest: `sha256:${'ab'.repeat(32)}` },
    warnings: [],
  };
}
