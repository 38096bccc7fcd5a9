/**
 * The configured aliases closest to one that is not configured, for an "unknown host" answer that
 * stays short at any fleet size: edit distance (Levenshtein, case-insensitive), a shared prefix
 * breaking ties, then alphabetical order.
 */

/** Levenshtein distance with one rolling row; stops early once every cell exceeds `max`. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      const v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      row.push(v);
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length] as number;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Up to `n` aliases nearest to `alias`, nearest first. */
export function closestAliases(alias: string, aliases: readonly string[], n = 5): string[] {
  const want = alias.toLowerCase();
  const scored: Array<{ alias: string; d: number; p: number }> = [];
  let worst = Infinity; // the n-th best distance so far: farther ones need not be computed exactly
  for (const a of aliases) {
    const lower = a.toLowerCase();
    const d = editDistance(want, lower, worst);
    if (d > worst) continue;
    scored.push({ alias: a, d, p: commonPrefix(want, lower) });
    if (scored.length >= n * 4) {
      scored.sort(order);
      scored.length = n;
      worst = (scored[n - 1] as { d: number }).d;
    }
  }
  return scored
    .sort(order)
    .slice(0, n)
    .map((s) => s.alias);
}

function order(
  x: { alias: string; d: number; p: number },
  y: { alias: string; d: number; p: number },
): number {
  return x.d - y.d || y.p - x.p || x.alias.localeCompare(y.alias);
}
