import type { VulnReport } from '../model.js';
import { sortFindings } from './text.js';

/** The in-toto vulns predicate version this builder writes (spec/predicates/vulns_02.md). */
export const VULNS_PREDICATE_VERSION = '0.2';

/**
 * The in-toto vulnerability-scan predicate (v0.2): `scanner` with its `db` and the `result`
 * list (one entry per finding: `id`, `severity` as method/score pairs, `annotations`), and
 * `metadata` with the scan's start and end. ssf's own data (component, aliases, fixed
 * versions, VEX, database digest) goes into `annotations`, which the spec leaves to scanners.
 */
export function vulnsPredicate(
  report: VulnReport,
  scanner: { uri: string; version: string },
  opts: { startedOn?: Date | string; finishedOn?: Date | string } = {},
): Record<string, unknown> {
  const now = new Date().toISOString();
  const time = (t: Date | string | undefined): string => (t === undefined ? now : typeof t === 'string' ? t : t.toISOString());
  const db: Record<string, unknown> = { version: report.db.digest, lastUpdate: report.db.date };
  // scanner.db.uri is a ResourceURI: only a URL qualifies, not a local path the import came from.
  if (report.db.source !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(report.db.source)) db['uri'] = report.db.source;
  const result = sortFindings(report.findings).map((f) => {
    const severity: { method: string; score: string }[] = [];
    if (f.score !== undefined) severity.push({ method: cvssMethod(f.vector), score: f.score.toFixed(1) });
    severity.push({ method: 'severity', score: f.severity });
    const note: Record<string, unknown> = {
      purl: f.component.purl,
      package: f.component.name,
      version: f.component.version,
      aliases: f.aliases,
      fixed: f.fixed,
      matchedBy: f.matchedBy,
      modified: f.modified,
    };
    if (f.summary !== undefined) note['summary'] = f.summary;
    if (f.vector !== undefined) note['vector'] = f.vector;
    if (f.published !== undefined) note['published'] = f.published;
    if (f.vex) note['vex'] = { ...f.vex };
    return { id: f.id, severity, annotations: [note] };
  });
  return {
    scanner: { uri: scanner.uri, version: scanner.version, db, result },
    metadata: { scanStartedOn: time(opts.startedOn), scanFinishedOn: time(opts.finishedOn) },
  };
}

// The method names the scoring system the score came from, e.g. CVSS_V3 or CVSS_V4 (as OSV names them).
function cvssMethod(vector: string | undefined): string {
  const m = vector === undefined ? null : /^CVSS:(\d)/.exec(vector);
  return m ? `CVSS_V${m[1]}` : 'CVSS';
}
