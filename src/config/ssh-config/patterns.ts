/** OpenSSH match.c: match_pattern(), match_pattern_list(), match_hostname(). */

const patternCache = new Map<string, RegExp>();

/** match_pattern(): `*` any run, `?` exactly one character, everything else literal. */
export function matchSshPattern(text: string, pattern: string): boolean {
  if (!/[*?]/.test(pattern)) return text === pattern;
  let re = patternCache.get(pattern);
  if (!re) {
    const body = pattern
      .split("")
      .map((c) => (c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : c.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
      .join("");
    re = new RegExp(`^${body}$`);
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re.test(text);
}

/**
 * match_pattern_list(): comma-separated patterns, `!` negates; true only when some pattern
 * matches and no negated one does. `lower` lowercases the patterns (and the text, as
 * match_hostname() does).
 */
export function matchPatternList(text: string, list: string, lower = false): boolean {
  const t = lower ? text.toLowerCase() : text;
  let hit = false;
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!");
    const body = negated ? raw.slice(1) : raw;
    const p = lower ? body.toLowerCase() : body;
    if (matchSshPattern(t, p)) {
      if (negated) return false;
      hit = true;
    }
  }
  return hit;
}
