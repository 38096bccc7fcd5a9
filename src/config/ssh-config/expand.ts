/**
 * `~` and `%`/`${}` expansion as OpenSSH does it: misc.c tilde_expand() (the passwd entry's home,
 * `~user/` through the passwd database) and vdollar_percent_expand() (an unknown `%x` token, a
 * trailing `%`, an unset `${VAR}` are errors, which ssh makes fatal).
 */
import { readFileSync } from "node:fs";

let passwd: Map<string, string> | undefined;
/** Home directory of a local user name, from /etc/passwd (getpwnam()). */
function homeOf(user: string): string | undefined {
  if (!passwd) {
    passwd = new Map();
    try {
      for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
        const f = line.split(":");
        if (f.length >= 6 && f[0]) passwd.set(f[0], f[5] ?? "");
      }
    } catch {
      // No passwd file: `~user` cannot be expanded.
    }
  }
  return passwd.get(user);
}

/** tilde_expand(): undefined when `~user` names no user. */
export function tildeExpand(filename: string, home: string): string | undefined {
  if (!filename.startsWith("~")) return filename;
  const copy = filename.slice(1);
  let dir: string | undefined;
  let path: string | undefined;
  if (copy === "") {
    dir = home;
  } else if (copy.startsWith("/")) {
    dir = home;
    const p = copy.replace(/^\/+/, "");
    path = p === "" ? undefined : p;
  } else {
    const slash = copy.indexOf("/");
    const user = slash >= 0 ? copy.slice(0, slash) : copy;
    if (slash >= 0) {
      const p = copy.slice(slash + 1).replace(/^\/+/, "");
      path = p === "" ? undefined : p;
    }
    dir = homeOf(user);
    if (dir === undefined) return undefined;
  }
  const slash = dir.length === 0 || !dir.endsWith("/");
  return `${dir}${slash ? "/" : ""}${path ?? ""}`;
}

export type Tokens = Readonly<Record<string, () => string>>;

/** vdollar_percent_expand(): the expanded string, or the error ssh reports. */
export function percentExpand(
  s: string,
  tokens: Tokens | undefined,
  dollar: boolean,
): { value: string } | { error: string } {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (dollar && c === "$" && s[i + 1] === "{") {
      const end = s.indexOf("}", i + 2);
      if (end < 0) return { error: `environment variable '${s.slice(i + 2)}' missing closing '}'` };
      const name = s.slice(i + 2, end);
      if (name === "") return { error: "zero-length environment variable" };
      const v = process.env[name];
      if (v === undefined) return { error: `environment variable \${${name}} is not set` };
      out += v;
      i = end;
      continue;
    }
    if (c !== "%" || !tokens) {
      out += c;
      continue;
    }
    const t = s[++i];
    if (t === "%") {
      out += "%";
      continue;
    }
    if (t === undefined) return { error: "invalid format (a trailing %)" };
    const f = tokens[t];
    if (!f) return { error: `unknown key %${t}` };
    out += f();
  }
  return { value: out };
}

/** The tokens readconf.c allows in `Match exec` and ssh.c in most path options (9.2: no %j). */
export const CLIENT_TOKENS = ["C", "L", "i", "k", "l", "n", "p", "d", "h", "r", "u"] as const;

/** A static check that `s` only uses `allowed` tokens (for values validated before resolution). */
export function tokenError(s: string, allowed: readonly string[]): string {
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "%") continue;
    const t = s[++i];
    if (t === "%") continue;
    if (t === undefined) return "invalid format (a trailing %)";
    if (!allowed.includes(t)) return `unknown key %${t}`;
  }
  return "";
}
