/** Remote paths: `~` resolution against the SFTP home, normalization, and shell quoting. */
import { posix } from "node:path";
import { ScoutError } from "../errors.js";

/** `~` → home, `~/x` → home/x, relative → home-relative; `.`/`..`/`//` normalized, never above `/`. */
export function resolveRemotePath(path: string, home: string): string {
  if (/[\0-\x08\x0a-\x1f\x7f]/.test(path)) {
    throw new ScoutError("invalid-input", "Path contains control characters");
  }
  let p = path;
  if (p === "~") p = home;
  else if (p.startsWith("~/")) p = posix.join(home, p.slice(2));
  else if (!p.startsWith("/")) p = posix.join(home, p);
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/$/, "") : n;
}

/** POSIX single-quote escaping: the only way user text may reach a remote shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
