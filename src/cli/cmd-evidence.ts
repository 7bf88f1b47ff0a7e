import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SsfError, parseDigestRef, readTextFile, sha256File, sha256Hex, writeFileAtomic } from '../core/index.js';
import type { ResourceDescriptor } from '../attest/index.js';
import {
  LICENSE_THRESHOLDS, PREDICATE, SCANNER, SEVERITY_RANK, VULN_THRESHOLDS, VulnDb, applyVex, evaluateLicenses, gatingLicenses, gatingSecrets, gatingVulns,
  loadAllowlist, loadLicensePolicy, parseVex, readSbomInput, scanSecrets, scanText, toCycloneDx, toSarif, toSpdx, vexSuppresses, vulnsPredicate,
  type Allowlist, type LicenseThreshold, type SecretFinding, type SecretReport, type VexDocument, type VulnThreshold,
} from '../analysis/index.js';
import { str, strs, type Command, type Io, type ParsedArgs } from './command.js';

// The PKI, the factory and the runner load only when a command signs or verifies something:
// reading a lockfile must not pay for them (about 0.3 s of module loading).
const signing = async (): Promise<{ Factory: typeof import('../factory/index.js').Factory; resolveDataDir: typeof import('../factory/index.js').resolveDataDir; makeStatement: typeof import('../attest/index.js').makeStatement }> => {
  const [factory, attest] = await Promise.all([import('../factory/index.js'), import('../attest/index.js')]);
  return { Factory: factory.Factory, resolveDataDir: factory.resolveDataDir, makeStatement: attest.makeStatement };
};

/** The data dir as every command resolves it, without loading the factory code. */
function dataDirOf(a: ParsedArgs, io: Io): string {
  return resolve(str(a, 'dir') ?? io.env.SSF_DIR ?? '.ssf');
}

const ATTEST_HELP = `  --attest             sign the result as evidence about --subject, log it in the
                       factory and write the bundle to --bundle
  --subject F|DIGEST   the artifact the evidence is about (file or sha256:<hex>;
                       repeatable; needed with --attest)
  --bundle OUT         where --attest writes the Sigstore bundle
  --dir D              factory data directory`;

const ATTEST_OPTIONS = { attest: { type: 'boolean' }, subject: { type: 'string', multiple: true }, bundle: { type: 'string' }, dir: { type: 'string' } } as const;

function subjectsOf(a: ParsedArgs): ResourceDescriptor[] {
  const list = strs(a, 'subject');
  if (list.length === 0) throw new SsfError('USAGE', '--attest needs at least one --subject FILE|sha256:<hex> (the artifact the evidence is about)');
  return list.map((s) => {
    const d = parseDigestRef(s);
    if (d) return { name: s, digest: { [d.algorithm]: d.hex } };
    if (s.startsWith('sha256:')) throw new SsfError('USAGE', `--subject ${JSON.stringify(s)} is not a digest of the form sha256:<64 hex>`);
    if (!existsSync(s) || !statSync(s).isFile()) throw new SsfError('FILE_NOT_FOUND', `--subject ${s} is not a file`);
    return { name: basename(s), digest: { sha256: sha256File(s) } };
  });
}

interface AttestPlan { subjects: ResourceDescriptor[]; out: string; dataDir: string }

/**
 * With --attest: checks the subjects, --bundle and the factory before the command does any
 * work, so a mistyped flag never leaves a document on standard output or a report on disk
 * from a run that then fails.
 */
async function attestPlan(a: ParsedArgs, io: Io): Promise<AttestPlan | undefined> {
  if (!a.values.attest) return undefined;
  const subjects = subjectsOf(a);
  const out = str(a, 'bundle');
  if (!out) throw new SsfError('USAGE', '--attest needs --bundle OUT (where the Sigstore bundle is written)');
  if (!existsSync(dirname(resolve(out)))) throw new SsfError('FILE_NOT_FOUND', `the directory of --bundle ${out} does not exist`);
  const { Factory, resolveDataDir } = await signing();
  const dataDir = resolveDataDir(str(a, 'dir'), io.env);
  Factory.open(dataDir).close();
  return { subjects, out, dataDir };
}

/** Signs the predicate about the plan's subjects with a short-lived evidence identity. */
async function attest(plan: AttestPlan | undefined, io: Io, kind: string, predicateType: string, predicate: Record<string, unknown>): Promise<void> {
  if (!plan) return;
  const { Factory, makeStatement } = await signing();
  const f = Factory.open(plan.dataDir);
  try {
    const identity = await f.issueIdentity(['evidence', kind]);
    const [res] = f.attest([{ statement: makeStatement(plan.subjects, predicateType, predicate), identity }]);
    if (!res) throw new SsfError('INTERNAL', 'attest produced no bundle');
    writeFileAtomic(plan.out, JSON.stringify(res.bundle, null, 2) + '\n');
    io.err(`signed by ${identity.spiffeId}; logged at index ${res.logIndex}; bundle written to ${plan.out}`);
  } finally {
    f.close();
  }
}

function emit(io: Io, out: string | undefined, text: string): void {
  if (out) writeFileAtomic(out, text);
  else io.out(text.replace(/\n$/, ''));
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

function vulnDbPath(a: ParsedArgs, io: Io): string {
  return str(a, 'db') ?? join(dataDirOf(a, io), 'vulndb', 'osv.db');
}

export const sbomCommand: Command = {
  name: 'sbom',
  summary: 'write a CycloneDX 1.6 or SPDX 2.3 SBOM of a project, lockfile or imported SBOM',
  usage: `Usage: ssf sbom [PATH] [--format cyclonedx|spdx] [--output FILE] [--summary]
                [--attest --subject F --bundle OUT] [--dir D]

PATH is a project directory (its lockfile is found: package-lock.json,
npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock), a lockfile, or a CycloneDX
(1.4-1.6) or SPDX (2.2/2.3) JSON document to convert. Default: the current
directory. The package manager is never run. The document goes to standard
output (or --output); warnings (peer conflicts, missing hashes) to standard error.

Options:
  --format F           cyclonedx (default) or spdx
  --output FILE        write the document to FILE
  --json               the document as JSON (the default; accepted for symmetry)
  --summary            print component counts instead of the document (with
                       --output the document is written as well)
${ATTEST_HELP}
  -h, --help           show this help`,
  options: { format: { type: 'string' }, output: { type: 'string', short: 'o' }, json: { type: 'boolean' }, summary: { type: 'boolean' }, ...ATTEST_OPTIONS },
  positionals: { min: 0, max: 1 },
  async run(a, io) {
    const format = str(a, 'format') ?? 'cyclonedx';
    if (format !== 'cyclonedx' && format !== 'spdx') throw new SsfError('USAGE', `--format must be cyclonedx or spdx, got ${JSON.stringify(format)}`);
    const plan = await attestPlan(a, io);
    const sbom = readSbomInput(a.positionals[0] ?? '.');
    for (const w of sbom.warnings.slice(0, 20)) io.err(`warning: ${w}`);
    if (sbom.warnings.length > 20) io.err(`warning: … and ${sbom.warnings.length - 20} more`);
    const opts = { timestamp: new Date(), tool: { name: SCANNER.name, version: SCANNER.version } };
    const doc = format === 'spdx' ? toSpdx(sbom, opts) : toCycloneDx(sbom, opts);
    // --summary replaces the document on standard output; with --output the document is still written.
    const output = str(a, 'output');
    if (!a.values.summary || output) emit(io, output, JSON.stringify(doc, null, 2) + '\n');
    if (a.values.summary) {
      const by = (s: string): number => sbom.components.filter((c) => c.scope === s).length;
      io.out(`${sbom.root.name}@${sbom.root.version}: ${sbom.components.length} components (${by('required')} required, ${by('optional')} optional, ${by('dev')} dev), ${sbom.dependencies.reduce((n, d) => n + d.dependsOn.length, 0)} dependency edges, from ${sbom.source.file ?? sbom.source.kind}`);
    }
    await attest(plan, io, 'sbom', format === 'spdx' ? PREDICATE.spdx : PREDICATE.cyclonedx, doc);
    return 0;
  },
};

export const vulndbImportCommand: Command = {
  name: 'vulndb import',
  summary: 'import OSV advisories (a JSON file, a directory, an OSV zip archive or its URL)',
  usage: `Usage: ssf vulndb import SOURCE [--db FILE] [--dir D]

SOURCE is an OSV JSON file, a directory of them, a zip archive as OSV publishes
per ecosystem (all.zip), or an http(s) URL of one. Imports are incremental: an
advisory replaces the stored one only when its "modified" time is newer.
Withdrawn advisories are kept (so an older copy cannot bring them back) but
never match. Archives are checked for size, entry count and compression ratio.

Options:
  --db FILE    the advisory database (default: <data dir>/vulndb/osv.db)
  --json       print the import counts as JSON
  --dir D      data directory (no factory needed)
  -h, --help   show this help`,
  options: { db: { type: 'string' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const db = VulnDb.open(vulnDbPath(a, io));
    try {
      const s = await db.import(a.positionals[0] as string);
      for (const w of s.warnings.slice(0, 20)) io.err(`warning: ${w}`);
      if (a.values.json) io.out(JSON.stringify(s));
      else io.out(`imported ${a.positionals[0]}: ${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.withdrawn} withdrawn, ${s.skipped} skipped; database ${s.info.digest} (${s.info.advisories} advisories, newest ${s.info.date})`);
    } finally {
      db.close();
    }
    return 0;
  },
};

export const vulndbInfoCommand: Command = {
  name: 'vulndb info',
  summary: 'show the advisory database: digest, date, size',
  usage: `Usage: ssf vulndb info [--db FILE] [--json] [--dir D]

Prints the database's digest (over every advisory id and modified time), the
newest modified time, the number of advisories and where they came from. Every
scan report carries the same digest and date.`,
  options: { db: { type: 'string' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  async run(a, io) {
    const path = vulnDbPath(a, io);
    if (!existsSync(path)) throw new SsfError('VULNDB_MISSING', `no advisory database at ${path}; run \`ssf vulndb import SOURCE\` first`);
    const db = VulnDb.open(path);
    try {
      const i = db.info();
      io.out(a.values.json ? JSON.stringify(i) : `${i.digest}  ${i.advisories} advisories, newest ${i.date}${i.source ? `, from ${i.source}` : ''}`);
    } finally {
      db.close();
    }
    return 0;
  },
};

/** VEX for a scan: signed bundles verified against the trust root; plain documents only when allowed. */
async function vexFor(a: ParsedArgs, io: Io): Promise<{ doc: VexDocument; signer?: string }[]> {
  const files = strs(a, 'vex');
  if (files.length === 0) return [];
  const signed: { text: string; file: string }[] = [];
  const out: { doc: VexDocument; signer?: string }[] = [];
  for (const file of files) {
    const text = readTextFile(file, 'VEX', 16 * 1024 * 1024);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new SsfError('VEX_INVALID', `${file} is not JSON`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SsfError('VEX_INVALID', `${file} is not a JSON object; give an OpenVEX or CycloneDX VEX document or a bundle from \`ssf vex sign\``);
    const isBundle = typeof (value as { mediaType?: unknown }).mediaType === 'string';
    if (isBundle) signed.push({ text, file });
    else if (a.values['allow-unsigned-vex']) out.push({ doc: parseVex(text, { file }) });
    else throw new SsfError('VEX_INVALID', `${file} is an unsigned VEX document; sign it with \`ssf vex sign\` or pass --allow-unsigned-vex`);
  }
  if (signed.length > 0) {
    const [{ trustFromArgs }, { BundleVerifier }, { verifiedVex }] = await Promise.all([import('./trust-args.js'), import('../verify/index.js'), import('../platform/evidence.js')]);
    const { trust, revocations } = trustFromArgs(a, io);
    out.push(...verifiedVex(signed, new BundleVerifier(trust, { revocations })));
  }
  return out;
}

export const scanCommand: Command = {
  name: 'scan',
  summary: 'match a project, lockfile or SBOM against the OSV advisory database, with VEX',
  usage: `Usage: ssf scan [PATH] [--vex FILE]... [--fail-on SEVERITY] [--json] [--sarif FILE]
                [--predicate FILE] [--db FILE] [--attest --subject F --bundle OUT] [--dir D]

PATH as for \`ssf sbom\` (default: the current directory). Matching follows the
OSV schema's evaluation rules (SEMVER/ECOSYSTEM ranges, versions lists);
aliases are merged and severity is computed from CVSS v3.x/v4 vectors. VEX
statements (OpenVEX or CycloneDX VEX) set a finding's status; not_affected and
fixed findings are reported but never fail the scan.

Options:
  --vex FILE            a VEX bundle signed by the factory (\`ssf vex sign\`);
                        repeatable
  --allow-unsigned-vex  also accept plain VEX documents (recorded as unsigned)
  --fail-on SEVERITY    exit 1 when a finding not suppressed by VEX is at or above
                        low|medium|high|critical (default: none, report only);
                        findings without a score count as high
  --json                the report as JSON
  --sarif FILE          also write SARIF 2.1.0 for code-scanning tools
  --predicate FILE      also write the in-toto vulns predicate
  --db FILE             the advisory database (default: <data dir>/vulndb/osv.db)
  --trusted-root FILE   trust root for signed VEX (default: the factory's)
${ATTEST_HELP}
  -h, --help            show this help

Exit status: 0 no finding at the threshold; 1 findings at the threshold
(FINDINGS_FAILED) or an error; 2 usage.`,
  options: {
    vex: { type: 'string', multiple: true }, 'allow-unsigned-vex': { type: 'boolean' }, 'fail-on': { type: 'string' }, json: { type: 'boolean' },
    sarif: { type: 'string' }, predicate: { type: 'string' }, db: { type: 'string' }, 'trusted-root': { type: 'string' }, revocations: { type: 'string' }, ...ATTEST_OPTIONS,
  },
  positionals: { min: 0, max: 1 },
  async run(a, io) {
    const failOn = (str(a, 'fail-on') ?? 'none') as VulnThreshold;
    if (!VULN_THRESHOLDS.includes(failOn)) throw new SsfError('USAGE', `--fail-on must be one of ${VULN_THRESHOLDS.join(', ')}, got ${JSON.stringify(failOn)}`);
    const plan = await attestPlan(a, io);
    const sbom = readSbomInput(a.positionals[0] ?? '.');
    const vex = await vexFor(a, io);
    const path = vulnDbPath(a, io);
    if (!existsSync(path)) throw new SsfError('VULNDB_MISSING', `no advisory database at ${path}; run \`ssf vulndb import SOURCE\` first`);
    const db = VulnDb.open(path);
    let report;
    try {
      report = db.load().match(sbom);
    } finally {
      db.close();
    }
    const products = strs(a, 'subject').length > 0 ? subjectsOf(a).map((s) => `sha256:${s.digest?.sha256 ?? ''}`) : [];
    const applied = applyVex(report.findings, vex, { now: new Date(), products });
    report = { ...report, findings: applied.findings, warnings: [...sbom.warnings, ...report.warnings, ...applied.warnings] };
    const predicate = vulnsPredicate(report, { uri: SCANNER.uri, version: SCANNER.version });
    const sarif = str(a, 'sarif');
    if (sarif) writeFileAtomic(sarif, JSON.stringify(toSarif({ vulns: report, ...(sbom.source.file ? { sbomFile: sbom.source.file } : {}) }, SCANNER), null, 2) + '\n');
    const pred = str(a, 'predicate');
    if (pred) writeFileAtomic(pred, JSON.stringify(predicate, null, 2) + '\n');
    const gating = gatingVulns(report, failOn);
    if (a.values.json) {
      io.out(JSON.stringify(report));
    } else {
      for (const w of report.warnings.slice(0, 10)) io.err(`warning: ${w}`);
      const rows = [['SEVERITY', 'SCORE', 'ID', 'PACKAGE', 'FIXED IN', 'VEX']];
      const sorted = [...report.findings].sort((x, y) => SEVERITY_RANK[y.severity] - SEVERITY_RANK[x.severity] || (y.score ?? 0) - (x.score ?? 0) || x.component.name.localeCompare(y.component.name));
      for (const f of sorted) rows.push([f.severity, f.score?.toFixed(1) ?? '-', f.id, `${f.component.name}@${f.component.version}`, f.fixed.join(', ') || '-', f.vex ? f.vex.status : '']);
      if (report.findings.length > 0) for (const l of pad(rows)) io.out(l);
      const suppressed = report.findings.filter(vexSuppresses).length;
      io.out(`${report.findings.length} finding${report.findings.length === 1 ? '' : 's'} in ${sbom.components.length} components (${suppressed} suppressed by VEX); database ${report.db.digest.slice(0, 19)}… of ${report.db.date}, ${report.db.advisories} advisories`);
    }
    await attest(plan, io, 'scan', PREDICATE.vulns, predicate);
    if (gating.length > 0) throw new SsfError('FINDINGS_FAILED', `${gating.length} finding${gating.length === 1 ? '' : 's'} at or above ${failOn}: ${gating.slice(0, 3).map((f) => `${f.id} (${f.component.name}@${f.component.version})`).join(', ')}`);
    return 0;
  },
};

export const licensesCommand: Command = {
  name: 'licenses',
  summary: 'normalise declared licences to SPDX and evaluate them against a policy',
  usage: `Usage: ssf licenses [PATH] [--policy FILE] [--fail-on denied|unknown|none] [--json]
                    [--sarif FILE] [--attest --subject F --bundle OUT] [--dir D]

PATH as for \`ssf sbom\`. Each component's declared licence is normalised to an
SPDX expression; non-SPDX strings are corrected where unambiguous (and flagged)
or reported as unknown. A policy (YAML or JSON: allow: [...], deny: [...]) is
evaluated on the expression: OR needs one allowed branch, AND all, WITH the
pair or its base licence.

Options:
  --policy FILE         licence policy
  --fail-on T           denied (default): exit 1 on denied licences; unknown:
                        also on missing or non-SPDX licences; none
  --json                the report as JSON
  --sarif FILE          also write SARIF 2.1.0
${ATTEST_HELP}
  -h, --help            show this help`,
  options: { policy: { type: 'string' }, 'fail-on': { type: 'string' }, json: { type: 'boolean' }, sarif: { type: 'string' }, ...ATTEST_OPTIONS },
  positionals: { min: 0, max: 1 },
  async run(a, io) {
    const failOn = (str(a, 'fail-on') ?? 'denied') as LicenseThreshold;
    if (!LICENSE_THRESHOLDS.includes(failOn)) throw new SsfError('USAGE', `--fail-on must be one of ${LICENSE_THRESHOLDS.join(', ')}, got ${JSON.stringify(failOn)}`);
    const plan = await attestPlan(a, io);
    const sbom = readSbomInput(a.positionals[0] ?? '.');
    const pf = str(a, 'policy');
    const policy = pf ? loadLicensePolicy(readTextFile(pf, 'licence policy', 1024 * 1024), pf) : undefined;
    const report = evaluateLicenses(sbom, policy);
    const sarif = str(a, 'sarif');
    if (sarif) writeFileAtomic(sarif, JSON.stringify(toSarif({ licenses: report, ...(sbom.source.file ? { sbomFile: sbom.source.file } : {}) }, SCANNER), null, 2) + '\n');
    if (a.values.json) io.out(JSON.stringify(report));
    else {
      const rows = [['STATUS', 'PACKAGE', 'DECLARED', 'SPDX', 'NOTES']];
      for (const f of report.findings) rows.push([f.status, `${f.component.name}@${f.component.version}`, f.declared ?? '-', f.expression ?? '-', f.problems.join('; ')]);
      for (const l of pad(rows)) io.out(l);
      const count = (s: string): number => report.findings.filter((f) => f.status === s).length;
      io.out(`${report.findings.length} components: ${count('allowed')} allowed, ${count('denied')} denied, ${count('unlisted')} unlisted, ${count('unknown')} unknown`);
    }
    await attest(plan, io, 'licenses', PREDICATE.licenses, { scanner: { uri: SCANNER.uri, version: SCANNER.version }, report });
    const gating = gatingLicenses(report, failOn);
    if (gating.length > 0) throw new SsfError('FINDINGS_FAILED', `${gating.length} component${gating.length === 1 ? ' fails' : 's fail'} the licence policy: ${gating.slice(0, 3).map((f) => `${f.component.name}@${f.component.version} (${f.declared ?? 'no licence'})`).join(', ')}`);
    return 0;
  },
};

/**
 * The allowlist's three kinds of entry applied to a single scanned file, whose path relative to
 * the scanned root is its name: a directory scan applies the same entries in scanSecrets.
 */
function allows(list: Allowlist, f: SecretFinding): boolean {
  const glob = (g: string): boolean => globMatches(g, f.file);
  return list.fingerprints.has(f.fingerprint) || list.paths.some(glob) || list.rules.some((r) => r.rule === f.rule && (r.path === undefined || glob(r.path)));
}

/** `*` and `?` within a segment, `**` across segments, a trailing `/` for everything below (docs/secrets.md). */
function globMatches(glob: string, path: string): boolean {
  const g = glob.endsWith('/') ? `${glob}**` : glob;
  const re = g.replace(/\*\*\/|\*\*|\*|\?|[.+^${}()|[\]\\]/g, (t) => (t === '**/' ? '(?:.*/)?' : t === '**' ? '.*' : t === '*' ? '[^/]*' : t === '?' ? '[^/]' : `\\${t}`));
  return new RegExp(`^${re}$`).test(path);
}

export const secretsCommand: Command = {
  name: 'secrets',
  summary: 'scan a source tree or a pipeline definition for credentials',
  usage: `Usage: ssf secrets [PATH] [--allowlist FILE] [--fail-on any|none] [--json] [--sarif FILE]
                   [--attest --subject F --bundle OUT] [--dir D]

PATH is a directory (default: the current one) or a file such as a pipeline
definition. Finds well-known credential formats (cloud keys, forge and npm
tokens, private keys, JWTs, passwords in URLs) and high-entropy assignments.
Findings show file:line:column and a fingerprint; the secret itself is never
printed or stored. .git and node_modules are skipped, symlinks never followed.

Options:
  --allowlist FILE    suppress findings by fingerprint, path or rule (default:
                      .ssf-secrets-allow in PATH when it exists; docs/secrets.md)
  --fail-on T         any (default): exit 1 on any finding; none: report only
  --json              the report as JSON
  --sarif FILE        also write SARIF 2.1.0
${ATTEST_HELP}
  -h, --help          show this help`,
  options: { allowlist: { type: 'string' }, 'fail-on': { type: 'string' }, json: { type: 'boolean' }, sarif: { type: 'string' }, ...ATTEST_OPTIONS },
  positionals: { min: 0, max: 1 },
  async run(a, io) {
    const failOn = str(a, 'fail-on') ?? 'any';
    if (failOn !== 'any' && failOn !== 'none') throw new SsfError('USAGE', `--fail-on must be any or none, got ${JSON.stringify(failOn)}`);
    const plan = await attestPlan(a, io);
    const target = a.positionals[0] ?? '.';
    if (!existsSync(target)) throw new SsfError('FILE_NOT_FOUND', `${target} does not exist`);
    const isDir = statSync(target).isDirectory();
    const allowFile = str(a, 'allowlist') ?? (isDir && existsSync(join(target, '.ssf-secrets-allow')) ? join(target, '.ssf-secrets-allow') : undefined);
    const allowlist = allowFile ? loadAllowlist(readTextFile(allowFile, 'allowlist', 1024 * 1024), allowFile) : undefined;
    let report: SecretReport;
    if (isDir) {
      report = await scanSecrets(target, { ...(allowlist ? { allowlist } : {}) });
    } else {
      const text = readTextFile(target, 'file to scan', 16 * 1024 * 1024);
      const all = scanText(text, basename(target));
      const kept = all.filter((f) => !allowlist || !allows(allowlist, f));
      report = { filesScanned: 1, findings: kept, suppressed: all.length - kept.length, warnings: [] };
    }
    const sarif = str(a, 'sarif');
    if (sarif) writeFileAtomic(sarif, JSON.stringify(toSarif({ secrets: report }, SCANNER), null, 2) + '\n');
    if (a.values.json) io.out(JSON.stringify(report));
    else {
      for (const w of report.warnings.slice(0, 10)) io.err(`warning: ${w}`);
      for (const f of report.findings) io.out(`${f.file}:${f.line}:${f.column}: ${f.what} (${f.rule}, ${f.fingerprint})`);
      io.out(`${report.findings.length} finding${report.findings.length === 1 ? '' : 's'} in ${report.filesScanned} file${report.filesScanned === 1 ? '' : 's'}${report.suppressed ? ` (${report.suppressed} allowlisted)` : ''}`);
    }
    await attest(plan, io, 'secrets', PREDICATE.secrets, { scanner: { uri: SCANNER.uri, version: SCANNER.version }, report });
    const n = gatingSecrets(report, failOn);
    if (n > 0) throw new SsfError('FINDINGS_FAILED', `${n} secret${n === 1 ? '' : 's'} found (first: ${report.findings[0]?.file}:${report.findings[0]?.line})`);
    return 0;
  },
};

/** `90d`, `12h`, or an ISO date. */
function expiryOf(s: string, now: Date): Date {
  const m = /^([1-9][0-9]{0,4})([dh])$/.exec(s);
  if (m) return new Date(now.getTime() + Number(m[1]) * (m[2] === 'd' ? 86400000 : 3600000));
  const d = new Date(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(d.getTime())) throw new SsfError('USAGE', `--expires must be a duration like 90d or 12h, or an ISO 8601 date; got ${JSON.stringify(s)}`);
  if (d <= now) throw new SsfError('USAGE', `--expires ${s} is in the past`);
  return d;
}

export const vexSignCommand: Command = {
  name: 'vex sign',
  summary: 'sign an OpenVEX document as evidence, with an expiry',
  usage: `Usage: ssf vex sign FILE --expires DURATION|DATE --bundle OUT [--dir D]

Validates an OpenVEX document, sets its "expires" (an ssf extension; see
docs/vex.md) and signs it as an in-toto statement (predicate type
${PREDICATE.openvex}) with a short-lived identity spiffe://<td>/evidence/vex,
logged in the transparency log. \`ssf scan --vex OUT\` and the scan pipeline task
accept the bundle; an expired statement no longer applies.

Options:
  --expires T   90d, 12h, or an ISO 8601 date (required: VEX must not live forever)
  --bundle OUT  where to write the Sigstore bundle
  --dir D       factory data directory
  -h, --help    show this help`,
  options: { expires: { type: 'string' }, bundle: { type: 'string' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const file = a.positionals[0] as string;
    const expiresArg = str(a, 'expires');
    if (!expiresArg) throw new SsfError('USAGE', 'ssf vex sign needs --expires (e.g. 90d)');
    const out = str(a, 'bundle');
    if (!out) throw new SsfError('USAGE', 'ssf vex sign needs --bundle OUT');
    const now = new Date();
    const expires = expiryOf(expiresArg, now);
    const text = readTextFile(file, 'VEX document', 16 * 1024 * 1024);
    const parsed = parseVex(text, { file });
    if (parsed.format !== 'openvex') throw new SsfError('VEX_INVALID', `${file} is CycloneDX VEX; ssf vex sign signs OpenVEX documents`);
    const doc: Record<string, unknown> = { ...(JSON.parse(text) as Record<string, unknown>), expires: expires.toISOString() };
    // A statement's own expires overrides the document's (docs/vex.md), so a later one would
    // outlive --expires: it is brought down to it, never extended.
    let capped = 0;
    if (Array.isArray(doc['statements'])) {
      doc['statements'] = (doc['statements'] as unknown[]).map((st) => {
        const own = (st as { expires?: unknown }).expires;
        if (typeof own !== 'string' || !(Date.parse(own) > expires.getTime())) return st;
        capped++;
        return { ...(st as Record<string, unknown>), expires: expires.toISOString() };
      });
    }
    if (capped > 0) io.err(`note: ${capped} statement${capped === 1 ? '' : 's'} had a later "expires" of ${capped === 1 ? 'its' : 'their'} own; set to ${expires.toISOString()}`);
    parseVex(JSON.stringify(doc), { file });
    const digest = sha256Hex(JSON.stringify(doc));
    const { Factory, resolveDataDir, makeStatement } = await signing();
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const identity = await f.issueIdentity(['evidence', 'vex']);
      const subjects: ResourceDescriptor[] = [{ name: parsed.id, digest: { sha256: digest } }];
      const [res] = f.attest([{ statement: makeStatement(subjects, PREDICATE.openvex, doc), identity }]);
      if (!res) throw new SsfError('INTERNAL', 'attest produced no bundle');
      writeFileAtomic(out, JSON.stringify(res.bundle, null, 2) + '\n');
      io.out(`signed ${parsed.statements.length} VEX statement${parsed.statements.length === 1 ? '' : 's'} by ${parsed.author} as ${identity.spiffeId}, expiring ${expires.toISOString()}; logged at index ${res.logIndex}; bundle written to ${out}`);
    } finally {
      f.close();
    }
    return 0;
  },
};
