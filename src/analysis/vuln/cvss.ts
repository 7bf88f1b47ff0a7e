import { createRequire } from 'node:module';
import type { Severity } from '../model.js';

/**
 * CVSS base scores computed with ae-cvss-calculator (FIRST's formulas for 2.0, 3.0, 3.1 and
 * the 4.0 macro-vector lookup). The library is CommonJS without ESM named exports, so it is
 * loaded through createRequire, lazily: commands that never score do not pay for it.
 */

interface CvssScores {
  base?: number;
  /** 4.0 only: CVSS-B, the score of the base metrics alone (`base` there includes threat metrics). */
  baseMetricsOnly?: number;
}
interface CvssInstance {
  isBaseFullyDefined(): boolean;
  calculateScores(normalize?: boolean): CvssScores;
}
type CvssCtor = new (vector: string) => CvssInstance;
interface CvssLib {
  Cvss2: CvssCtor;
  Cvss3P0: CvssCtor;
  Cvss3P1: CvssCtor;
  Cvss4P0: CvssCtor;
}

let lib: CvssLib | undefined;
function cvssLib(): CvssLib {
  lib ??= createRequire(import.meta.url)('ae-cvss-calculator') as CvssLib;
  return lib;
}

/** Loads the CVSS library now, so that the first match does not pay for it. */
export function preloadCvss(): void {
  cvssLib();
}

export type CvssVersion = '2.0' | '3.0' | '3.1' | '4.0';

/** Base metrics every vector of that version must carry (FIRST's specification documents). */
const BASE_METRICS: Record<CvssVersion, readonly string[]> = {
  '2.0': ['AV', 'AC', 'Au', 'C', 'I', 'A'],
  '3.0': ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  '3.1': ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  '4.0': ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'],
};

const cache = new Map<string, { version: CvssVersion; score: number; severity: Severity } | null>();

/** Qualitative severity of a base score: FIRST's scale for 3.x and 4.0, NVD's for 2.0 (which has none of its own). */
export function severityOfScore(score: number, version: CvssVersion): Severity {
  if (version === '2.0') return score < 4 ? 'low' : score < 7 ? 'medium' : 'high';
  if (score === 0) return 'none';
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  if (score < 9) return 'high';
  return 'critical';
}

/**
 * Parses a CVSS vector and computes its base score; undefined when the vector is not a
 * complete, well-formed 2.0, 3.0, 3.1 or 4.0 vector (unknown metric, duplicate, missing base metric).
 */
export function cvss(vector: string): { version: CvssVersion; score: number; severity: Severity } | undefined {
  const hit = cache.get(vector);
  if (hit !== undefined) return hit ?? undefined;
  const result = compute(vector);
  if (cache.size > 10_000) cache.clear();
  cache.set(vector, result ?? null);
  return result;
}

function compute(vector: string): { version: CvssVersion; score: number; severity: Severity } | undefined {
  if (vector.length > 512 || !/^[A-Za-z0-9:./]+$/.test(vector)) return undefined;
  let version: CvssVersion;
  let body: string;
  const prefix = /^CVSS:(\d\.\d)\//.exec(vector);
  if (prefix) {
    const v = prefix[1];
    if (v !== '3.0' && v !== '3.1' && v !== '4.0') return undefined;
    version = v;
    body = vector.slice(prefix[0].length);
  } else {
    version = '2.0';
    body = vector.startsWith('(') && vector.endsWith(')') ? vector.slice(1, -1) : vector;
  }
  const seen = new Set<string>();
  for (const part of body.split('/')) {
    const m = /^([A-Za-z]+):([A-Za-z]+)$/.exec(part);
    if (!m || seen.has(m[1] as string)) return undefined;
    seen.add(m[1] as string);
  }
  for (const metric of BASE_METRICS[version]) if (!seen.has(metric)) return undefined;
  const l = cvssLib();
  const Ctor = version === '2.0' ? l.Cvss2 : version === '3.0' ? l.Cvss3P0 : version === '3.1' ? l.Cvss3P1 : l.Cvss4P0;
  try {
    const c = new Ctor(version === '2.0' ? body : vector);
    if (!c.isBaseFullyDefined()) return undefined;
    const scores = c.calculateScores(false);
    const base = version === '4.0' ? scores.baseMetricsOnly : scores.base;
    if (typeof base !== 'number' || !Number.isFinite(base) || base < 0 || base > 10) return undefined;
    const score = Math.round(base * 10) / 10;
    return { version, score, severity: severityOfScore(score, version) };
  } catch {
    // The library throws on unknown metrics or values: the vector is not usable.
    return undefined;
  }
}
