/**
 * Target parsing, before any SSH traffic. Error texts follow the Python Scout so that prompts
 * written for it keep working; `..` is normalized rather than rejected (the original's regexes
 * refused legitimate names like `/etc/..hidden`).
 *
 * Fleet forms: `hosts:PATTERN` lists a subset, and in `targets=[…]` the host part may be a host
 * pattern or group (`web-*:/etc/nginx/nginx.conf`, `@web:/etc/x`, `web-*,!web-old:/etc/x`),
 * expanded over the configured aliases by expandTargets (semantics: config/host-patterns.ts).
 */
import { posix } from "node:path";
import { isHostPattern, selectHosts, type HostGroups } from "../config/host-patterns.js";
import { ScoutError } from "../errors.js";

export type Target = { kind: "hosts"; filter?: string } | { kind: "path"; host: string; path: string };
export type RemoteRole = "diff" | "broadcast" | "beam_source" | "beam_target";

const MAX_HOST = 253;
const MAX_PATH = 4096;
const BAD_HOST = /[/\\;&|$`\s\0-\x1f\x7f]/;
const MAX_PATTERN = 4096;
/** A pattern list may hold spaces after commas; otherwise what a host may hold. */
const BAD_PATTERN = /[/\\;&|$`\0-\x1f\x7f]/;

/** Renders a value for an error message on one line (control characters escaped). */
export function shown(s: string, max = 200): string {
  const cut = s.length > max ? s.slice(0, max) + "…" : s;
  return cut.replace(/[\0-\x1f\x7f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    if (c === "\0") return "\\x00";
    return "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0");
  });
}

function invalid(msg: string): ScoutError {
  return new ScoutError("invalid-input", msg);
}

/** Normalizes a remote path: absolute and `~` paths collapse `.`/`..`/`//`; `..` never climbs above `/`. */
export function normalizeRemotePath(path: string): string {
  if (path === "~" || path.startsWith("~/")) {
    const rest = path.slice(1);
    if (rest === "" || rest === "/") return "~";
    const n = posix.normalize(rest);
    return n === "/" ? "~" : "~" + n.replace(/\/$/, "");
  }
  const n = posix.normalize(path);
  if (n === "/" || n === ".") return n === "." ? "." : "/";
  return n.replace(/\/$/, "").replace(/^\.\//, "");
}

function checkPath(path: string): string {
  if (path === "") throw invalid("Path cannot be empty");
  if (path.length > MAX_PATH) throw invalid(`Path too long: ${path.length} chars`);
  if (path.includes("\0")) throw invalid(`Path contains null byte: '${shown(path)}'`);
  if (/[\x01-\x08\x0a-\x1f\x7f]/.test(path))
    throw invalid(`Path contains control characters: '${shown(path)}'`);
  return normalizeRemotePath(path);
}

function checkHost(host: string): string {
  if (host === "") throw invalid("Host cannot be empty");
  if (host.length > MAX_HOST) throw invalid(`Host name too long: ${host.length} chars`);
  if (BAD_HOST.test(host)) throw invalid(`Host contains invalid characters: '${shown(host)}'`);
  return host;
}

/**
 * `hosts`, or `hosts:PATTERN` (a subset). `hosts:/path` and `hosts:~/path` stay a path on a host
 * named "hosts", as before patterns existed.
 */
function hostsFilter(t: string): string | undefined {
  if (t.toLowerCase() === "hosts") return "";
  if (!/^hosts:/i.test(t)) return undefined;
  const filter = t.slice(6).trim();
  return filter === "" || /^[/~]/.test(filter) ? undefined : filter;
}

/** True for `hosts` and `hosts:PATTERN` (the hosts list, whole or a subset). */
export function isHostsTarget(raw: string): boolean {
  return hostsFilter((raw ?? "").trim()) !== undefined;
}

export function parseTarget(raw: string): Target {
  const t = (raw ?? "").trim();
  const filter = hostsFilter(t);
  if (filter === "") return { kind: "hosts" };
  if (filter !== undefined) {
    if (filter.length > MAX_PATTERN) throw invalid(`Host pattern too long: ${filter.length} chars`);
    if (BAD_PATTERN.test(filter))
      throw invalid(`Host pattern contains invalid characters: '${shown(filter)}'`);
    return { kind: "hosts", filter };
  }
  const colon = t.indexOf(":");
  if (t === "" || colon < 0) throw invalid(`Invalid target '${shown(t)}'. Expected 'host:/path' or 'hosts'`);
  const host = checkHost(t.slice(0, colon).trim());
  const path = checkPath(t.slice(colon + 1).trim());
  return { kind: "path", host, path };
}

const HOSTS_NOT_ALLOWED: Record<RemoteRole, string> = {
  diff: "diff target must be 'host:/path', not 'hosts'",
  broadcast: "broadcast targets must be 'host:/path', not 'hosts'",
  beam_source: "beam_source must be in format 'host:/path'",
  beam_target: "beam_target must be in format 'host:/path'",
};

/** A `host:/path` for diff, broadcast and remote-to-remote beam; `hosts` is an error there. */
export function parseRemoteSpec(raw: string, role: RemoteRole): { host: string; path: string } {
  let t: Target;
  try {
    t = parseTarget(raw);
  } catch (e) {
    if (role === "beam_source" || role === "beam_target") throw invalid(HOSTS_NOT_ALLOWED[role]);
    if (role === "broadcast") throw invalid(`Error parsing target '${shown(raw)}': ${(e as Error).message}`);
    throw e;
  }
  if (t.kind === "hosts") throw invalid(HOSTS_NOT_ALLOWED[role]);
  return t;
}

/** Docker container, compose project and ZFS pool names, before they reach a shell. */
export function validateResourceName(name: string, what: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || name.length > 128) {
    throw invalid(`Invalid ${what} name '${shown(name)}': use letters, digits, '.', '_' and '-'`);
  }
  return name;
}

/** One expanded broadcast target: a host and path, or why the entry selected nothing. */
export interface ExpandedTarget {
  host: string;
  path: string;
  error?: ScoutError;
}

/**
 * Broadcast targets with host patterns and groups expanded over the configured aliases (in their
 * order), duplicates (`host:path` reached by two entries) dropped. An entry that does not parse,
 * or whose pattern selects no host, becomes one target carrying its error, so it fails alone.
 */
export function expandTargets(
  raw: readonly string[],
  aliases: readonly string[],
  groups: HostGroups,
): ExpandedTarget[] {
  const out: ExpandedTarget[] = [];
  const seen = new Set<string>();
  const add = (host: string, path: string) => {
    const key = `${host}\0${path}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ host, path });
  };
  for (const r of raw) {
    let spec: { host: string; path: string };
    try {
      spec = parseRemoteSpec(r, "broadcast");
      if (!isHostPattern(spec.host)) {
        add(spec.host, spec.path);
        continue;
      }
      const hosts = selectHosts(spec.host, aliases, groups);
      if (hosts.length === 0) {
        throw new ScoutError("unknown-host", `No configured host matches '${shown(spec.host)}'`, {
          hint: "List the hosts with scout('hosts'), or a subset with scout('hosts:PATTERN')",
        });
      }
      for (const h of hosts) add(h, spec.path);
    } catch (e) {
      const error = e instanceof ScoutError ? e : new ScoutError("invalid-input", String(e));
      out.push({ host: r, path: "", error });
    }
  }
  return out;
}
