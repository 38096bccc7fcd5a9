/**
 * Host patterns and groups: how a fleet user names many hosts at once, in targets
 * (`web-*:/etc/nginx/nginx.conf`, `scout("hosts:@web")`) and in SCOUT_WARM_HOSTS.
 *
 * A spec is a comma-separated list, matched as OpenSSH matches a `Host` line: `*` and `?`
 * wildcards, case-insensitive, `!` negates, and an alias is selected when some positive item
 * matches and no negated one does (so `!web-old` alone selects nothing; write `web-*,!web-old`).
 * `@name` stands for a group from SCOUT_HOST_GROUPS, itself such a list; `!@name` excludes it.
 * Patterns select among configured aliases only; a plain alias is not a pattern.
 */
import { ScoutError } from "../errors.js";
import { matchSshPattern } from "./ssh-config.js";

export type HostGroups = Readonly<Record<string, readonly string[]>>;

/** True when `spec` names hosts by pattern or group rather than one alias. */
export function isHostPattern(spec: string): boolean {
  return /[*?,!]/.test(spec) || spec.startsWith("@");
}

type Matcher = (lowerAlias: string) => boolean;

/**
 * Compiles a spec into a predicate over aliases. Throws ScoutError("invalid-input") for an
 * unknown group or a group that includes itself.
 */
export function compileHostPattern(spec: string, groups: HostGroups): (alias: string) => boolean {
  const m = compileList(spec.split(","), groups, []);
  return (alias) => m(alias.toLowerCase());
}

function compileList(items: readonly string[], groups: HostGroups, stack: string[]): Matcher {
  const positive: Matcher[] = [];
  const negative: Matcher[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === "") continue;
    const negated = item.startsWith("!");
    const body = negated ? item.slice(1) : item;
    (negated ? negative : positive).push(compileItem(body, groups, stack));
  }
  return (alias) => !negative.some((m) => m(alias)) && positive.some((m) => m(alias));
}

function compileItem(item: string, groups: HostGroups, stack: string[]): Matcher {
  if (!item.startsWith("@")) {
    const p = item.toLowerCase();
    return (alias) => matchSshPattern(alias, p);
  }
  const name = item.slice(1);
  const members = Object.hasOwn(groups, name) ? groups[name] : undefined;
  if (!members) {
    const known = Object.keys(groups);
    throw new ScoutError("invalid-input", `Unknown host group '@${name}'`, {
      hint: known.length
        ? `Defined groups: ${known.map((g) => "@" + g).join(", ")}`
        : "Define groups in SCOUT_HOST_GROUPS, e.g. web=web-*,!web-old;db=db-?",
    });
  }
  if (stack.includes(name)) {
    throw new ScoutError(
      "invalid-input",
      `Host group '@${name}' includes itself: ${[...stack, name].join(" → ")}`,
      {
        hint: "Fix SCOUT_HOST_GROUPS",
      },
    );
  }
  return compileList(members, groups, [...stack, name]);
}

/** The aliases (in the given order) that `spec` selects. */
export function selectHosts(spec: string, aliases: readonly string[], groups: HostGroups): string[] {
  const m = compileHostPattern(spec, groups);
  return aliases.filter(m);
}
