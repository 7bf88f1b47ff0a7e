import type { AppliedVex, Finding } from '../model.js';
import type { VexDocument, VexStatement } from './parse.js';
import { purlCovers, purlKey as parsePurl, type PurlKey } from './purl.js';

/** The one rule every reader of findings uses: VEX not_affected or fixed means the finding does not gate. */
export function vexSuppresses(f: Finding): boolean {
  return f.vex?.status === 'not_affected' || f.vex?.status === 'fixed';
}

interface Candidate {
  st: VexStatement;
  doc: VexDocument;
  signer?: string;
  /** Position over all documents and statements: later wins a timestamp tie. */
  order: number;
  time: number;
  products: { raw: string; key?: PurlKey }[];
  subcomponents: PurlKey[];
}

/**
 * Applies VEX statements to findings. A statement applies to a finding when its vulnerability
 * or one of its aliases equals the finding's id or one of its aliases, and one of its products
 * names the finding's component (by purl), or one of its products is the scanned artifact
 * (`opts.products`) and its subcomponents name the component (or it lists none). Of several
 * applicable statements the newest timestamp wins, and on a tie the later one (document order,
 * then the order of `docs`). Expired statements are ignored with a warning. Findings are never
 * removed: each gets `vex` set (a copy; the input is not changed); one no statement applies to
 * keeps whatever `vex` it had.
 */
export function applyVex(
  findings: Finding[],
  docs: { doc: VexDocument; signer?: string }[],
  opts: { now: Date; products?: string[] },
): { findings: Finding[]; warnings: string[] } {
  const warnings: string[] = [];
  const now = opts.now.getTime();
  // Parsing a purl costs ~10 µs; statements and findings repeat the same ones.
  const keys = new Map<string, PurlKey | undefined>();
  const purlKey = (s: string): PurlKey | undefined => {
    if (!keys.has(s)) keys.set(s, parsePurl(s));
    return keys.get(s);
  };
  const artifact = (opts.products ?? []).map((p) => ({ raw: normaliseDigest(p), key: purlKey(p) }));
  const byVuln = new Map<string, Candidate[]>();
  let order = 0;
  for (const { doc, signer } of docs) {
    doc.statements.forEach((st, i) => {
      order++;
      const name = `VEX document ${doc.id} statement ${i} (${st.vulnerability})`;
      if (st.expires !== undefined && Date.parse(st.expires) <= now) {
        warnings.push(`${name} expired at ${st.expires}; ignored`);
        return;
      }
      if (st.products.length === 0) {
        warnings.push(`${name} names no product; ignored`);
        return;
      }
      const c: Candidate = {
        st,
        doc,
        order,
        time: Date.parse(st.timestamp ?? doc.timestamp),
        products: st.products.map((raw) => {
          const key = purlKey(raw);
          return key ? { raw, key } : { raw: normaliseDigest(raw) };
        }),
        subcomponents: st.subcomponents.flatMap((s) => purlKey(s) ?? []),
      };
      if (signer !== undefined) c.signer = signer;
      for (const id of new Set([st.vulnerability, ...st.aliases].map(idKey))) {
        const list = byVuln.get(id) ?? [];
        list.push(c);
        byVuln.set(id, list);
      }
    });
  }

  const out = findings.map((f) => {
    const component = purlKey(f.component.purl);
    if (!component) return f;
    let best: Candidate | undefined;
    const seen = new Set<Candidate>();
    for (const id of [f.id, ...f.aliases]) {
      for (const c of byVuln.get(idKey(id)) ?? []) {
        if (seen.has(c)) continue;
        seen.add(c);
        if (!applies(c, component, artifact)) continue;
        if (!best || c.time > best.time || (c.time === best.time && c.order > best.order)) best = c;
      }
    }
    if (!best) return f;
    return { ...f, vex: applied(best) };
  });
  return { findings: out, warnings };
}

function applies(c: Candidate, component: PurlKey, artifact: { raw: string; key?: PurlKey }[]): boolean {
  if (c.products.some((p) => p.key !== undefined && purlCovers(p.key, component))) return true;
  const isArtifact = c.products.some((p) =>
    artifact.some((a) => (a.key && p.key ? purlCovers(p.key, a.key) : a.key === undefined && p.key === undefined && a.raw === p.raw)),
  );
  if (!isArtifact) return false;
  return c.subcomponents.length === 0 || c.subcomponents.some((s) => purlCovers(s, component));
}

function applied(c: Candidate): AppliedVex {
  const v: AppliedVex = { status: c.st.status, author: c.doc.author, document: c.doc.id };
  if (c.st.justification !== undefined) v.justification = c.st.justification;
  if (c.st.impactStatement !== undefined) v.impactStatement = c.st.impactStatement;
  if (c.st.actionStatement !== undefined) v.actionStatement = c.st.actionStatement;
  if (c.st.expires !== undefined) v.expires = c.st.expires;
  if (c.signer !== undefined) v.signer = c.signer;
  return v;
}

// Advisory ids are compared without regard to case: GHSA ids appear in both cases in the wild.
function idKey(id: string): string {
  return id.trim().toUpperCase();
}

// `sha256:ABC…` and `sha256:abc…` name the same artifact.
function normaliseDigest(s: string): string {
  return /^sha256:[0-9a-fA-F]{64}$/.test(s) ? s.toLowerCase() : s;
}
