/** Remote path resolution and shell quoting: the only ways user text reaches a path or a shell. */
import { posix } from "node:path";
import { ScoutError } from "../errors.js";

const CONTROL = /[\x00-\x1f\x7f]/;

/** Throws invalid-input when `path` contains NUL or another control character. */
export function assertCleanPath(path: string, what = "Path"): void {
  if (CONTROL.test(path)) {
    throw new ScoutError("invalid-input", `${what} contains a control character: ${JSON.stringify(path)}`, {
      hint: "Remove newlines, tabs and other control characters from the path",
    });
  }
}

/**
 * An absolute, normalized remote path: `~` → home, `~/x` → home/x, relative → home-relative,
 * `.`, `..` and `//` folded with POSIX semantics (`..` stops at `/`), no trailing slash.
 * `~user` is not expanded (it would need the remote passwd database); it is taken literally.
 */
export function resolveRemotePath(path: string, home: string): string {
  assertCleanPath(path);
  let p = path;
  if (p === "~") p = home;
  else if (p.startsWith("~/")) p = home + p.slice(1);
  else if (!p.startsWith("/")) p = `${home}/${p}`;
  let out = posix.normalize(p);
  // normalize keeps a leading "//" pair (POSIX allows it to mean something else); we don't.
  out = out.replace(/^\/+/, "/");
  if (out.length > 1 && out.endsWith("/")) out = out.slice(0, -1);
  return out;
}

/** The parent directory of an absolute normalized path ("/" for "/" itself). */
export function parentDir(abs: string): string {
  return posix.dirname(abs);
}

/** Joins a directory and an entry name (no normalization: names never contain "/"). */
export function joinRemote(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** POSIX single-quote escaping: the result is one shell word that expands to exactly `s`. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
