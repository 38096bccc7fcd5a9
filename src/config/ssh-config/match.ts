/**
 * Host and Match conditions, evaluated as readconf.c does: Host patterns against the name being
 * resolved (the typed name, or the canonical name in the final pass); Match criteria left to
 * right, a failed one making the rest not run (an `exec` after it is skipped), `exec` run with
 * `$SHELL -c` (exit status 0 matches), `canonical`/`final` true only in the final pass.
 */
import { matchPatternList, matchSshPattern } from "./patterns.js";
import type { Cond } from "./parse.js";

export interface MatchContext {
  /** The name Host lines are matched against. */
  name: string;
  /** Match host: HostName obtained so far (%h expanded), or the name; the final name in pass 2. */
  host: () => string;
  originalHost: string;
  user: () => string;
  localUser: string;
  final: boolean;
  /** Runs (or looks up the result of) a Match exec command, `%` tokens already expanded by it. */
  exec: (command: string) => boolean;
}

/** A Host line: active when some pattern matches and no negated one does. */
export function hostActive(
  cond: Extract<Cond, { kind: "host" }>,
  name: string,
): { active: boolean; literal: boolean } {
  let active = false;
  let literal = false;
  for (const p of cond.patterns) {
    if (matchSshPattern(name, p.pattern)) {
      if (p.negated) return { active: false, literal: false };
      active = true;
      if (p.pattern === name) literal = true;
    }
  }
  return { active, literal };
}

export function matchActive(cond: Extract<Cond, { kind: "match" }>, m: MatchContext): boolean {
  let result = true;
  for (const c of cond.criteria) {
    let r: boolean;
    switch (c.kind) {
      case "all":
        return result && !c.negated;
      case "canonical":
      case "final":
        r = m.final;
        break;
      case "host":
        r = matchPatternList(m.host(), c.arg, true);
        break;
      case "originalhost":
        r = matchPatternList(m.originalHost, c.arg, true);
        break;
      case "user":
        r = matchPatternList(m.user(), c.arg);
        break;
      case "localuser":
        r = matchPatternList(m.localUser, c.arg);
        break;
      case "exec":
        if (!result) continue; // skip execution if a prior predicate failed
        r = m.exec(c.arg);
        break;
    }
    if (r === c.negated) result = false;
  }
  return result;
}
