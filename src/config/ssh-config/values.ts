/**
 * Value parsers ported from OpenSSH 9.2 misc.c / readconf.c, so that a value ssh refuses is
 * refused here too: a2port(), convtime(), atoi_err(), valid_domain(), parse_user_host_port(),
 * parse_uri("ssh"), parse_jump().
 */
import { readFileSync } from "node:fs";

const INT_MAX = 2147483647;

let services: Map<string, number> | undefined;
/** getservbyname(name, "tcp") from /etc/services. */
function serviceTcpPort(name: string): number | undefined {
  if (!services) {
    services = new Map();
    try {
      for (const line of readFileSync("/etc/services", "utf8").split("\n")) {
        const fields = line.replace(/#.*/, "").trim().split(/\s+/);
        const m = /^(\d+)\/tcp$/.exec(fields[1] ?? "");
        if (!m) continue;
        for (const n of [fields[0], ...fields.slice(2)])
          if (n && !services.has(n)) services.set(n, Number(m[1]));
      }
    } catch {
      // No /etc/services: only numeric ports.
    }
  }
  return services.get(name);
}

/** strtonum(s, min, max) as OpenSSH uses it (strtoll base 10: leading blanks and a sign allowed). */
function strtonum(s: string, min: number, max: number): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n < min || n > max ? undefined : n;
}

/** a2port(): 0..65535 or a tcp service name; -1 when invalid. */
export function a2port(s: string): number {
  const n = strtonum(s, 0, 65535);
  if (n !== undefined) return n;
  return serviceTcpPort(s) ?? -1;
}

/** atoi_err(): an int in 0..INT_MAX, or an error word. */
export function atoiErr(s: string | undefined): { value: number } | { error: string } {
  if (s === undefined || s === "") return { error: "missing" };
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)$/.exec(s);
  if (!m) return { error: "invalid" };
  const n = Number(m[1]);
  if (n < 0) return { error: "too small" };
  if (n > INT_MAX) return { error: "too large" };
  return { value: n };
}

/** convtime(): seconds, or -1 when invalid ("1h30m", "90", "5M"…). */
export function convtime(s: string): number {
  if (s === "") return -1;
  let total = 0;
  let p = 0;
  while (p < s.length) {
    // strtol: optional leading whitespace and sign, then digits.
    const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(s.slice(p));
    if (!m) return -1;
    const secs = Number(m[2]) * (m[1] === "-" ? -1 : 1);
    if (secs < 0 || secs >= INT_MAX) return -1;
    p += m[0].length;
    let mult = 1;
    const q = s[p];
    if (q !== undefined) {
      p++;
      if (q === "s" || q === "S") mult = 1;
      else if (q === "m" || q === "M") mult = 60;
      else if (q === "h" || q === "H") mult = 3600;
      else if (q === "d" || q === "D") mult = 86400;
      else if (q === "w" || q === "W") mult = 604800;
      else return -1;
    }
    if (secs > Math.floor(INT_MAX / mult)) return -1;
    if (total > INT_MAX - secs * mult) return -1;
    total += secs * mult;
  }
  return total;
}

/** valid_domain(): "" when valid, else the error text ssh prints. */
export function domainError(name: string): string {
  if (name === "") return "empty domain name";
  if (!/^[A-Za-z0-9]/.test(name)) return `domain name "${name}" starts with invalid character`;
  if (/\.\./.test(name)) return `domain name "${name.toLowerCase()}" contains consecutive separators`;
  if (/[^A-Za-z0-9._-]/.test(name)) return `domain name "${name.toLowerCase()}" contains invalid characters`;
  return "";
}

/** hpdelim2(): host part and the rest; `[...]` keeps colons. */
function hpdelim2(s: string): { host: string; rest: string | null; delim: string } | undefined {
  let i: number;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) return undefined;
    i = close + 1;
  } else {
    const m = /[:/]/.exec(s);
    i = m ? m.index : s.length;
  }
  if (i >= s.length) return { host: s, rest: null, delim: "" };
  const d = s[i] as string;
  if (d !== ":" && d !== "/") return undefined;
  return { host: s.slice(0, i), rest: s.slice(i + 1), delim: d };
}

function cleanhostname(h: string): string {
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

export interface UserHostPort {
  user?: string;
  host: string;
  /** -1: not given. */
  port: number;
}

/** parse_user_host_port(): "[user@]host[:port]", IPv6 in brackets. */
export function parseUserHostPort(s: string): UserHostPort | undefined {
  let tmp = s;
  let user: string | undefined;
  const at = tmp.lastIndexOf("@");
  if (at >= 0) {
    if (at === 0) return undefined;
    user = tmp.slice(0, at);
    tmp = tmp.slice(at + 1);
  }
  const hp = hpdelim2(tmp);
  if (!hp || hp.delim === "/" || hp.host === "") return undefined;
  const host = cleanhostname(hp.host);
  let port = -1;
  if (hp.rest !== null && hp.rest !== "") {
    port = a2port(hp.rest);
    if (port <= 0) return undefined;
  }
  return { ...(user !== undefined ? { user } : {}), host, port };
}

function urldecode(s: string): string | undefined {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === "+") out += " ";
    else if (c === "%") {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else out += c;
  }
  return out;
}

/** parse_uri("ssh", …) without a path: "not-uri" when it is not an ssh:// URI. */
export function parseSshUri(uri: string): UserHostPort | "not-uri" | undefined {
  if (!uri.startsWith("ssh://")) return "not-uri";
  let tmp = uri.slice(6);
  let user: string | undefined;
  const at = tmp.indexOf("@");
  if (at >= 0) {
    let info = tmp.slice(0, at);
    const semi = info.indexOf(";");
    if (semi >= 0) info = info.slice(0, semi);
    if (info === "") return undefined;
    user = urldecode(info);
    if (user === undefined) return undefined;
    tmp = tmp.slice(at + 1);
  }
  const hp = hpdelim2(tmp);
  if (!hp || hp.host === "") return undefined;
  const host = cleanhostname(hp.host);
  if (domainError(host) !== "") return undefined;
  let port = -1;
  let rest = hp.rest;
  if (rest !== null && rest !== "") {
    if (hp.delim === ":") {
      const slash = rest.indexOf("/");
      const portText = slash >= 0 ? rest.slice(0, slash) : rest;
      port = a2port(portText);
      if (port <= 0) return undefined;
      rest = slash >= 0 ? rest.slice(slash + 1) : null;
    }
    if (rest !== null && rest !== "") return undefined; // a path is not allowed
  }
  return { ...(user !== undefined ? { user } : {}), host, port };
}

/** One ProxyJump hop: ssh:// URI or [user@]host[:port]. */
export function parseJumpHop(s: string): UserHostPort | undefined {
  const u = parseSshUri(s);
  if (u === "not-uri") return parseUserHostPort(s);
  return u;
}

export type JumpValue =
  | { none: true }
  | {
      none: false;
      /** The last hop (the one the destination is reached from), parsed. */
      last: UserHostPort;
      /** The hops before it, as written (ssh -J's argument), if any. */
      extra?: string;
      /** Every hop, parsed, in order. */
      hops: UserHostPort[];
    };

/** readconf.c parse_jump(): undefined when ssh refuses the value. */
export function parseJump(s: string): JumpValue | undefined {
  let text = s;
  const hash = text.indexOf("#");
  if (hash >= 0) text = text.slice(0, hash);
  text = text.replace(/[ \t\r\n]+$/, "");
  if (s.toLowerCase() === "none") return { none: true };
  const parts = text.split(",");
  const hops: UserHostPort[] = [];
  for (const p of parts) {
    const h = parseJumpHop(p);
    if (!h) return undefined;
    hops.push(h);
  }
  const last = hops[hops.length - 1] as UserHostPort;
  const comma = s.lastIndexOf(",");
  return {
    none: false,
    last,
    ...(comma > 0 ? { extra: s.slice(0, comma) } : {}),
    hops,
  };
}

/** dump_client_config()'s proxyjump line value. */
export function formatJump(j: Extract<JumpValue, { none: false }>): string {
  const h = j.last.host;
  const numeric = h.includes(":") || /^[0-9.]*$/.test(h);
  return (
    (j.extra !== undefined ? `${j.extra},` : "") +
    (j.last.user !== undefined ? `${j.last.user}@` : "") +
    (numeric ? `[${h}]` : h) +
    (j.last.port > 0 ? `:${j.last.port}` : "")
  );
}
