import { pathToFileURL } from 'node:url';
import { sha256Hex } from '../../core/index.js';
import type { Finding, LicenseFinding, LicenseReport, SecretReport, Severity, VulnReport } from '../model.js';
import { vexSuppresses } from '../vex/index.js';
import { cmp, safeFingerprint, sortFindings } from './text.js';

/** The published location of the OASIS SARIF 2.1.0 schema (errata 01), as `$schema`. */
export const SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

type Level = 'error' | 'warning' | 'note';
type Json = Record<string, unknown>;

/** What a SARIF log is made from; `sbomFile` is the lockfile or SBOM the vulnerability and licence results point at. */
export interface SarifInput {
  vulns?: VulnReport;
  licenses?: LicenseReport;
  secrets?: SecretReport;
  /** Path of the lockfile/SBOM the component findings come from, relative to the repository root (e.g. `package-lock.json`). */
  sbomFile?: string;
}

/**
 * A SARIF 2.1.0 log with one run: a rule per advisory id, licence status and secret rule; a
 * result per finding. VEX-suppressed vulnerabilities stay as results with an external, accepted
 * suppression. Secret results carry the location and fingerprint only.
 */
export function toSarif(input: SarifInput, tool: { name: string; version: string; informationUri?: string }): Record<string, unknown> {
  const rules: Json[] = [];
  const results: Json[] = [];
  const ruleIndex = new Map<string, number>();
  const addRule = (id: string, make: () => Json): number => {
    let i = ruleIndex.get(id);
    if (i === undefined) {
      i = rules.length;
      rules.push({ id, ...make() });
      ruleIndex.set(id, i);
    }
    return i;
  };
  const notifications: Json[] = [];
  const runProps: Json = {};
  const sbomLocation = input.sbomFile === undefined ? undefined : { physicalLocation: { artifactLocation: { uri: toUri(input.sbomFile) } } };

  if (input.vulns) {
    const r = input.vulns;
    runProps['vulnerabilityDatabase'] = { digest: r.db.digest, date: r.db.date, advisories: r.db.advisories };
    runProps['sbom'] = r.sbom;
    for (const w of r.warnings) notifications.push({ level: 'warning', message: { text: w } });
    for (const f of sortFindings(r.findings)) {
      const index = addRule(f.id, () => vulnRule(f));
      const result: Json = {
        ruleId: f.id,
        ruleIndex: index,
        level: levelOf(f.severity),
        message: { text: vulnMessage(f) },
        locations: [componentLocation(f.component, sbomLocation)],
        partialFingerprints: { 'ssfComponentFinding/v1': sha256Hex(`vuln\n${f.id}\n${f.component.purl}`).slice(0, 32) },
        properties: vulnProperties(f),
      };
      if (f.vex && vexSuppresses(f)) {
        const by = `${f.vex.author} in ${f.vex.document}${f.vex.signer ? `, signed by ${f.vex.signer}` : ''}`;
        const why = f.vex.justification ?? f.vex.impactStatement;
        result['suppressions'] = [{ kind: 'external', status: 'accepted', justification: `VEX ${f.vex.status}${why ? `: ${why}` : ''} (${by})` }];
      }
      results.push(result);
    }
  }

  if (input.licenses) {
    const r = input.licenses;
    runProps['licenseSbom'] = r.sbom;
    if (r.policy !== undefined) runProps['licensePolicy'] = r.policy;
    const order = { denied: 0, unknown: 1, unlisted: 2, allowed: 3 } as const;
    const shown = r.findings.filter((f) => f.status !== 'allowed').sort((a, b) => order[a.status] - order[b.status] || cmp(a.component.purl, b.component.purl));
    for (const f of shown) {
      const status = f.status as Exclude<LicenseFinding['status'], 'allowed'>;
      const id = `license/${status}`;
      const index = addRule(id, () => LICENSE_RULES[status]);
      const licence = f.expression ?? f.declared;
      results.push({
        ruleId: id,
        ruleIndex: index,
        level: LICENSE_LEVEL[status],
        message: {
          text: `${f.component.name}@${f.component.version}: licence ${licence === undefined ? '(none declared)' : `"${licence}"`} is ${status}${f.problems.length > 0 ? ` (${f.problems.join('; ')})` : ''}`,
        },
        locations: [componentLocation(f.component, sbomLocation)],
        partialFingerprints: { 'ssfComponentFinding/v1': sha256Hex(`license\n${status}\n${f.component.purl}`).slice(0, 32) },
        properties: { purl: f.component.purl, ...(f.declared !== undefined ? { declared: f.declared } : {}), ...(f.expression !== undefined ? { expression: f.expression } : {}) },
      });
    }
  }

  let secretRegions = false;
  if (input.secrets) {
    const r = input.secrets;
    if (r.root !== undefined) runProps['secretScanRoot'] = r.root;
    runProps['secretFilesScanned'] = r.filesScanned;
    runProps['secretsSuppressed'] = r.suppressed;
    for (const w of r.warnings) notifications.push({ level: 'note', message: { text: w } });
    const sorted = [...r.findings].sort((a, b) => cmp(a.file, b.file) || a.line - b.line || a.column - b.column || cmp(a.rule, b.rule));
    for (const f of sorted) {
      // Only the fields below are read: whatever else a finding object carries never reaches the log.
      const fingerprint = safeFingerprint(f);
      const id = `secret/${f.rule}`;
      const index = addRule(id, () => ({
        name: camel(f.rule),
        shortDescription: { text: `Hard-coded secret: ${f.what}` },
        help: { text: `A value that looks like ${f.what} is written in the source. Remove it, rotate it, and read it from the environment or a secret store; if it is not a secret, add its fingerprint to the allowlist.` },
        defaultConfiguration: { level: 'error' },
        properties: { tags: ['security', 'secret'], precision: 'high', 'security-severity': '8.0' },
      }));
      secretRegions = true;
      results.push({
        ruleId: id,
        ruleIndex: index,
        level: 'error',
        message: { text: `${f.what} at ${f.file}:${f.line}:${f.column} (fingerprint ${fingerprint}; the value is not shown)` },
        locations: [{ physicalLocation: { artifactLocation: { uri: toUri(f.file) }, region: { startLine: Math.max(1, f.line), startColumn: Math.max(1, f.column) } } }],
        partialFingerprints: { 'ssfSecret/v1': `${f.rule}:${fingerprint}` },
        properties: { fingerprint },
      });
    }
  }

  const driver: Json = { name: tool.name, version: tool.version, rules };
  if (/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(tool.version)) driver['semanticVersion'] = tool.version;
  if (tool.informationUri !== undefined) driver['informationUri'] = tool.informationUri;
  const run: Json = { tool: { driver }, results };
  if (secretRegions) run['columnKind'] = 'utf16CodeUnits';
  if (notifications.length > 0) run['invocations'] = [{ executionSuccessful: true, toolExecutionNotifications: notifications }];
  if (Object.keys(runProps).length > 0) run['properties'] = runProps;
  return { $schema: SARIF_SCHEMA_URI, version: '2.1.0', runs: [run] };
}

/** SARIF level for a severity; an unscored finding counts as high (fail closed), as SEVERITY_RANK does. */
export function levelOf(s: Severity): Level {
  switch (s) {
    case 'critical':
    case 'high':
    case 'unknown':
      return 'error';
    case 'medium':
      return 'warning';
    case 'low':
    case 'none':
      return 'note';
  }
}

const LICENSE_LEVEL: Record<'denied' | 'unknown' | 'unlisted', Level> = { denied: 'error', unknown: 'warning', unlisted: 'note' };

const LICENSE_RULES: Record<'denied' | 'unknown' | 'unlisted', Json> = {
  denied: {
    name: 'LicenseDenied',
    shortDescription: { text: 'A dependency is under a licence the policy denies' },
    help: { text: 'The licence expression of this package is denied by the licence policy. Replace the package, or get the policy changed if the licence is acceptable.' },
    defaultConfiguration: { level: 'error' },
    properties: { tags: ['license'] },
  },
  unknown: {
    name: 'LicenseUnknown',
    shortDescription: { text: 'A dependency declares no licence, or one that is not an SPDX expression' },
    help: { text: 'ssf could not read this package licence as an SPDX expression. Check the package and, if it is acceptable, name its licence in the policy.' },
    defaultConfiguration: { level: 'warning' },
    properties: { tags: ['license'] },
  },
  unlisted: {
    name: 'LicenseUnlisted',
    shortDescription: { text: 'A dependency is under a licence the policy neither allows nor denies' },
    help: { text: 'The licence is a valid SPDX expression that the policy does not mention. Add it to the allow or deny list.' },
    defaultConfiguration: { level: 'note' },
    properties: { tags: ['license'] },
  },
};

function vulnRule(f: Finding): Json {
  const title = f.summary ?? `${f.id} in ${f.component.name}`;
  const lines = [title, '', `Advisory: ${f.id}${f.aliases.length > 0 ? ` (also ${f.aliases.join(', ')})` : ''}`];
  lines.push(`Severity: ${f.severity}${f.score !== undefined ? `, CVSS base score ${f.score.toFixed(1)}${f.vector ? ` (${f.vector})` : ''}` : ''}`);
  if (f.fixed.length > 0) lines.push(`Fixed in: ${f.fixed.join(', ')}`);
  const props: Json = { tags: ['security', 'vulnerability', 'dependency'], precision: 'very-high', aliases: f.aliases };
  // GitHub code scanning reads security-severity as a CVSS score string; an advisory without a computable score gets none.
  if (f.score !== undefined) props['security-severity'] = f.score.toFixed(1);
  return {
    name: camel(f.id),
    shortDescription: { text: title },
    fullDescription: { text: lines.join('\n').trim() },
    help: { text: lines.join('\n'), markdown: helpMarkdown(f, title) },
    helpUri: `https://osv.dev/vulnerability/${encodeURIComponent(f.id)}`,
    defaultConfiguration: { level: levelOf(f.severity) },
    properties: props,
  };
}

function helpMarkdown(f: Finding, title: string): string {
  const rows = [
    `**${md(title)}**`,
    '',
    `| | |`,
    `|---|---|`,
    `| Advisory | [${md(f.id)}](https://osv.dev/vulnerability/${encodeURIComponent(f.id)}) |`,
    `| Aliases | ${f.aliases.length > 0 ? f.aliases.map(md).join(', ') : '-'} |`,
    `| Severity | ${f.severity}${f.score !== undefined ? ` (CVSS ${f.score.toFixed(1)})` : ''} |`,
    `| Fixed in | ${f.fixed.length > 0 ? f.fixed.map(md).join(', ') : 'no fixed version'} |`,
  ];
  return rows.join('\n');
}

function vulnMessage(f: Finding): string {
  const sev = `${f.severity}${f.score !== undefined ? ` ${f.score.toFixed(1)}` : ''}`;
  const fix = f.fixed.length > 0 ? ` Fixed in ${f.fixed.join(', ')}.` : ' No fixed version.';
  const vex = f.vex ? ` VEX: ${f.vex.status}${f.vex.justification ? ` (${f.vex.justification})` : ''}.` : '';
  return `${f.component.name}@${f.component.version} is affected by ${f.id} (${sev})${f.summary ? `: ${f.summary}` : ''}.${fix}${vex}`;
}

function vulnProperties(f: Finding): Json {
  const p: Json = { purl: f.component.purl, aliases: f.aliases, fixed: f.fixed, matchedBy: f.matchedBy, severity: f.severity };
  if (f.score !== undefined) p['score'] = f.score;
  if (f.vector !== undefined) p['vector'] = f.vector;
  if (f.vex) p['vex'] = { ...f.vex };
  return p;
}

function componentLocation(c: { name: string; version: string; purl: string }, sbom: Json | undefined): Json {
  return { ...(sbom ?? {}), logicalLocations: [{ name: `${c.name}@${c.version}`, fullyQualifiedName: c.purl, kind: 'module' }] };
}

// A relative path stays a relative URI reference (what code scanning expects); an absolute one becomes a file: URL.
function toUri(path: string): string {
  const p = path.replace(/\\/g, '/');
  if (p.startsWith('/')) return pathToFileURL(p).href;
  return p.split('/').map(encodeURIComponent).join('/');
}

function camel(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

function md(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}
