import { parse as parseYaml } from 'yaml';
import { SsfError, sha256Hex } from '../../core/index.js';
import { currentForm, isLeaf, parse, recase, render, type SpdxLeaf, type SpdxNode } from './spdx.js';

/** Allow and deny lists of SPDX ids (`MIT`, `LicenseRef-X`, `GPL-2.0-only WITH Classpath-exception-2.0`). */
export interface LicensePolicy {
  allow: string[];
  deny: string[];
  /** `sha256:<hex>` of the policy file's bytes, when it was loaded from one. */
  digest?: string;
}

export interface LicenseDecision {
  status: 'allowed' | 'denied' | 'unlisted';
  why: string;
}

/** Policy files beyond this are refused: a real one is a few hundred bytes. */
const MAX_POLICY_BYTES = 1024 * 1024;

type Listed = 'allow' | 'deny';

/** The key a policy entry and an expression leaf are compared by: current SPDX naming. */
function keyOf(leaf: SpdxLeaf): string {
  const c = currentForm(leaf);
  return c.exception ? `${c.license} WITH ${c.exception}` : c.license;
}

/** Parses one policy entry into its key; the message names what is wrong with it. */
function entryKey(entry: string): string | { error: string } {
  const tree = parse(recase(entry.trim()).source);
  if (!tree) {
    const unknown = recase(entry.trim())
      .source.split(' ')
      .filter((w) => !/^(?:WITH|AND|OR|\(|\))$/.test(w) && parse(w.replace(/\+$/, '')) === undefined);
    return { error: unknown.length > 0 ? `unknown SPDX id ${JSON.stringify(unknown[0])}` : `${JSON.stringify(entry)} is not an SPDX id` };
  }
  if (!isLeaf(tree)) return { error: `${JSON.stringify(entry)} combines licences with ${tree.conjunction.toUpperCase()}; list each licence on its own` };
  return keyOf(tree);
}

interface Compiled {
  sig: string;
  listed: Map<string, Listed>;
}
const compiled = new WeakMap<LicensePolicy, Compiled>();

function compile(policy: LicensePolicy, file?: string): Compiled {
  const sig = JSON.stringify([policy.allow, policy.deny]);
  const hit = compiled.get(policy);
  if (hit && hit.sig === sig) return hit;
  const where = file ? ` in ${file}` : '';
  const listed = new Map<string, Listed>();
  for (const [list, entries] of [['allow', policy.allow], ['deny', policy.deny]] as const) {
    for (const entry of entries) {
      const k = entryKey(entry);
      if (typeof k !== 'string') throw new SsfError('LICENSE_POLICY_INVALID', `${list} entry ${JSON.stringify(entry)}${where}: ${k.error}; use ids from the SPDX licence list (https://spdx.org/licenses/) or LicenseRef-…`);
      const before = listed.get(k);
      if (before !== undefined && before !== list) throw new SsfError('LICENSE_POLICY_INVALID', `${JSON.stringify(entry)}${where} is both allowed and denied (as ${k}); keep it in one list`);
      listed.set(k, list);
    }
  }
  const c = { sig, listed };
  compiled.set(policy, c);
  return c;
}

/** Reads a policy file (YAML or JSON): `{ allow: [ids], deny: [ids] }`; the digest is of its bytes. */
export function loadLicensePolicy(text: string, file?: string): LicensePolicy {
  const name = file ?? 'the licence policy';
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw new SsfError('INPUT_TOO_LARGE', `${name} is larger than ${MAX_POLICY_BYTES} bytes; a licence policy is a short list of ids`);
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, maxAliasCount: 0 });
  } catch (e) {
    throw new SsfError('LICENSE_POLICY_INVALID', `${name} is not valid YAML or JSON (${(e as Error).message.split('\n')[0]}); write { allow: [...], deny: [...] }`, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new SsfError('LICENSE_POLICY_INVALID', `${name} must be a mapping with allow and deny lists`);
  const obj = doc as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (k !== 'allow' && k !== 'deny') throw new SsfError('LICENSE_POLICY_INVALID', `${name} has an unknown key ${JSON.stringify(k)}; only allow and deny are read`);
  }
  const list = (k: 'allow' | 'deny'): string[] => {
    const v = obj[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw new SsfError('LICENSE_POLICY_INVALID', `${k} in ${name} must be a list of SPDX ids (strings)`);
    return v;
  };
  const policy: LicensePolicy = { allow: list('allow'), deny: list('deny'), digest: `sha256:${sha256Hex(text)}` };
  compile(policy, name);
  return policy;
}

type Status = LicenseDecision['status'];
interface Outcome {
  status: Status;
  /** allowed: the licences of one allowed choice; denied: the denied licences; unlisted: the unlisted ones. */
  ids: string[];
}

const RANK: Record<Status, number> = { denied: 0, unlisted: 1, allowed: 2 };
const uniq = (xs: string[]): string[] => [...new Set(xs)];

function leafStatus(leaf: SpdxLeaf, listed: Map<string, Listed>): Status {
  const at = (k: string): Status | undefined => {
    const v = listed.get(k);
    return v === 'allow' ? 'allowed' : v === 'deny' ? 'denied' : undefined;
  };
  const c = currentForm(leaf);
  // WITH: the pair when the policy names it, else the base licence (an exception only adds permissions).
  if (c.exception) {
    const pair = at(`${c.license} WITH ${c.exception}`);
    if (pair) return pair;
  }
  const own = at(c.license);
  if (own) return own;
  // "or later": the licensee may pick the named version, so an allowed base allows it; a denied
  // base does not deny it, because a later version the policy does not list could be picked.
  const base = c.license.endsWith('-or-later') ? c.license.replace(/-or-later$/, '-only') : c.license.endsWith('+') ? c.license.slice(0, -1) : undefined;
  if (base !== undefined && at(base) === 'allowed') return 'allowed';
  return 'unlisted';
}

/** Three-valued evaluation on the parse tree: OR takes the best branch, AND the worst. */
function evaluate(n: SpdxNode, listed: Map<string, Listed>): Outcome {
  if (isLeaf(n)) return { status: leafStatus(n, listed), ids: [render(n)] };
  const l = evaluate(n.left, listed);
  const r = evaluate(n.right, listed);
  const pick = n.conjunction === 'or' ? (RANK[l.status] >= RANK[r.status] ? l.status : r.status) : RANK[l.status] <= RANK[r.status] ? l.status : r.status;
  if (n.conjunction === 'or' && pick === 'allowed') return { status: pick, ids: l.status === 'allowed' ? l.ids : r.ids };
  if (n.conjunction === 'and' && pick === 'allowed') return { status: pick, ids: uniq([...l.ids, ...r.ids]) };
  return { status: pick, ids: uniq([...(l.status === pick ? l.ids : []), ...(r.status === pick ? r.ids : [])]) };
}

/**
 * Decides an SPDX expression against a policy: allowed when some way to satisfy it uses only
 * allowed licences; denied when every way uses a denied one; unlisted otherwise.
 */
export function licenseAllowed(expression: string, policy: LicensePolicy): LicenseDecision {
  const { listed } = compile(policy);
  if (expression.length > 4096) throw new SsfError('INPUT_MALFORMED', `licence expression of ${expression.length} characters is over the 4096-character limit; normalise it first`);
  const tree = parse(recase(expression).source);
  if (!tree) throw new SsfError('INPUT_MALFORMED', `${JSON.stringify(expression)} is not an SPDX expression; normalise it with normalizeLicense first`);
  const o = evaluate(tree, listed);
  const names = o.ids.join(', ');
  const choice = isLeaf(tree) ? '' : ' (one way to satisfy the expression)';
  switch (o.status) {
    case 'allowed':
      return { status: 'allowed', why: `the policy allows ${names}${choice}` };
    case 'denied':
      return { status: 'denied', why: isLeaf(tree) ? `the policy denies ${names}` : `every way to satisfy the expression needs a licence the policy denies: ${names}` };
    case 'unlisted':
      return { status: 'unlisted', why: `the policy neither allows nor denies ${names}` };
  }
}
