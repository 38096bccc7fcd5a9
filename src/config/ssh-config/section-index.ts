/**
 * Which sections of a file can apply to a name. A `Host` block whose non-negated patterns are all
 * literal can only be active for exactly those names, so it is indexed by them; every other block
 * (wildcards, `Match`) is a candidate for every name. Resolving one alias then visits only its own
 * blocks plus the wildcard/Match ones, still in file order, instead of the whole config: listing
 * n hosts is O(n) rather than O(n²) for the usual one-block-per-host config.
 */
import type { ParsedFile } from "./parse.js";

interface SectionIndex {
  /** Indices of sections that any name may activate, ascending. */
  always: number[];
  /** Literal name → indices of the literal-only Host sections naming it, ascending. */
  byName: Map<string, number[]>;
}

const sectionIndexes = new WeakMap<ParsedFile, SectionIndex>();

function sectionIndex(file: ParsedFile): SectionIndex {
  const idx = sectionIndexes.get(file);
  if (idx) return idx;
  const built: SectionIndex = { always: [], byName: new Map() };
  file.sections.forEach((s, i) => {
    const positive = s.cond.kind === "host" ? s.cond.patterns.filter((p) => !p.negated) : [];
    // Sections holding an Include are visited for every name: the included file's checks run.
    const hasInclude = s.body.some((it) => it.kind === "include");
    if (s.cond.kind !== "host" || hasInclude || positive.some((p) => /[*?]/.test(p.pattern))) {
      built.always.push(i);
      return;
    }
    // No positive pattern at all ("Host !x"): never active; indexed under no name.
    for (const name of new Set(positive.map((p) => p.pattern))) {
      const list = built.byName.get(name);
      if (list) list.push(i);
      else built.byName.set(name, [i]);
    }
  });
  sectionIndexes.set(file, built);
  return built;
}

/** Merges the always-candidates with the name's own sections, in file order. */
export function candidateSections(file: ParsedFile, name: string): number[] {
  const { always, byName } = sectionIndex(file);
  const own = byName.get(name);
  if (!own) return always;
  if (always.length === 0) return own;
  const out: number[] = [];
  let a = 0;
  let b = 0;
  while (a < always.length || b < own.length) {
    const x = always[a];
    const y = own[b];
    if (y === undefined || (x !== undefined && x < y)) {
      out.push(x as number);
      a++;
    } else {
      out.push(y);
      b++;
    }
  }
  return out;
}
