/**
 * Reading config files and their Includes as readconf.c does: Include patterns are glob(3)ed
 * (GLOB_TILDE: `~` is $HOME), sorted, read at most 16 levels deep (deeper is fatal, so an Include
 * loop is a config error, as in ssh), and every included file (and the user's own config) must be
 * owned by root or the user and not writable by others ("Bad owner or permissions").
 */
import { readFileSync } from "node:fs";
import { readFile, readdir, stat } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import picomatch from "picomatch";
import { parseFileText, type Item, type ParsedFile } from "./parse.js";

/** OpenSSH's READCONF_MAX_DEPTH. */
export const MAX_INCLUDE_DEPTH = 16;

function hasMagic(segment: string): boolean {
  return /[*?[]/.test(segment);
}

const segmentMatchers = new Map<string, (s: string) => boolean>();
/** glob(3) semantics for one path segment: `*`, `?`, `[...]`; a leading dot must be explicit. */
function segmentMatcher(seg: string): (s: string) => boolean {
  let m = segmentMatchers.get(seg);
  if (!m) {
    m = picomatch(seg, { dot: false, nobrace: true, noextglob: true, noglobstar: true });
    segmentMatchers.set(seg, m);
  }
  return m;
}

/** Expands an absolute glob into existing paths, sorted like glob(3) (C locale). */
async function expandGlob(pattern: string): Promise<string[]> {
  const segments = pattern.split(sep);
  if (!segments.some(hasMagic)) {
    // glob(3) without magic characters still only returns an existing path.
    return stat(pattern).then(
      () => [pattern],
      () => [],
    );
  }
  let bases = [segments[0] === "" ? sep : (segments[0] ?? "")];
  for (const seg of segments.slice(1)) {
    if (seg === "") continue;
    const next: string[] = [];
    for (const base of bases) {
      if (!hasMagic(seg)) {
        next.push(join(base, seg));
        continue;
      }
      let names: string[];
      try {
        names = await readdir(base);
      } catch {
        continue;
      }
      const m = segmentMatcher(seg);
      for (const n of names.sort()) if (m(n)) next.push(join(base, n));
    }
    bases = next;
  }
  const existing = await Promise.all(
    bases.map((b) =>
      stat(b).then(
        () => b,
        () => undefined,
      ),
    ),
  );
  return existing.filter((b): b is string => b !== undefined).sort();
}

export function globMatchesPath(pattern: string, path: string): boolean {
  const ps = pattern.split(sep);
  const xs = path.split(sep);
  if (ps.length !== xs.length) return false;
  return ps.every((p, i) => (hasMagic(p) ? segmentMatcher(p)(xs[i] ?? "") : p === xs[i]));
}

export function globRoot(pattern: string): string {
  const segments = pattern.split(sep);
  const i = segments.findIndex(hasMagic);
  return i < 0 ? dirname(pattern) : segments.slice(0, i).join(sep) || sep;
}

/**
 * ssh's permission rule, with Debian's user-group-modes patch (the OpenSSH that Debian and Ubuntu
 * ship): owned by root or the user; not world-writable; group-writable only when the group's
 * sole member is the owner.
 */
export function permissionProblem(st: { uid: number; gid: number; mode: number }, uid: number): boolean {
  if (st.uid !== 0 && st.uid !== uid) return true;
  if ((st.mode & 0o002) !== 0) return true;
  if ((st.mode & 0o020) !== 0) return !groupIsOwnerOnly(st.gid, st.uid);
  return false;
}

function groupIsOwnerOnly(gid: number, owner: number): boolean {
  try {
    const users = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((l) => l.split(":"))
      .filter((f) => f.length >= 4);
    let members = 0;
    for (const f of users) {
      if (Number(f[3]) === gid) {
        members++;
        if (Number(f[2]) !== owner) return false;
      }
    }
    const ownerName = users.find((f) => Number(f[2]) === owner)?.[0];
    const group = readFileSync("/etc/group", "utf8")
      .split("\n")
      .map((l) => l.split(":"))
      .find((f) => f.length >= 4 && Number(f[2]) === gid);
    if (!group || ownerName === undefined) return false;
    const extra = (group[3] ?? "").split(",").filter((x) => x !== "");
    if (extra.length > 0) {
      members++;
      if (extra[0] !== ownerName || extra.length > 1) return false;
    }
    return members > 0;
  } catch {
    return false;
  }
}

export interface LoadContext {
  /** `~` in Include patterns (glob's GLOB_TILDE reads $HOME). */
  includeHome: string;
  uid: number;
}

/** Reads one config tree. Fatal problems are recorded in the files' `errors`. */
export class Loader {
  readonly warnings: string[] = [];
  readonly files: string[] = [];
  readonly globs: string[] = [];
  private readonly cache = new Map<
    string,
    Promise<{ text: string; bad: boolean } | { error: NodeJS.ErrnoException }>
  >();

  constructor(private readonly ctx: LoadContext) {}

  private read(path: string) {
    let p = this.cache.get(path);
    if (!p) {
      p = (async () => {
        try {
          const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
          this.files.push(path);
          return { text, bad: permissionProblem(st, this.ctx.uid) };
        } catch (e) {
          return { error: e as NodeJS.ErrnoException };
        }
      })();
      this.cache.set(path, p);
    }
    return p;
  }

  /**
   * Loads `path` at include depth `depth`. Undefined when it cannot be opened (ssh skips such a
   * file silently, except the file named by -F; the caller decides).
   */
  async load(
    path: string,
    opts: { depth: number; system: boolean; checkPerm: boolean },
  ): Promise<ParsedFile | { error: NodeJS.ErrnoException } | undefined> {
    const r = await this.read(path);
    if ("error" in r) return r.error.code === "ENOENT" ? undefined : { error: r.error };
    const file = parseFileText(r.text, path, opts.system);
    if (opts.checkPerm && r.bad) {
      file.errors.unshift({ where: { file: path, line: 0 }, message: `Bad owner or permissions on ${path}` });
      return file;
    }
    const includes = [...file.pre, ...file.sections.flatMap((s) => s.body)].filter(
      (i): i is Extract<Item, { kind: "include" }> => i.kind === "include",
    );
    for (const inc of includes) {
      for (const raw of inc.patterns) {
        const full =
          raw === "~"
            ? this.ctx.includeHome
            : raw.startsWith("~/")
              ? join(this.ctx.includeHome, raw.slice(2))
              : raw;
        this.globs.push(full);
        for (const m of await expandGlob(full)) {
          if (opts.depth + 1 > MAX_INCLUDE_DEPTH) {
            file.errors.push({ where: inc.where, message: "Too many recursive configuration includes" });
            return file;
          }
          const child = await this.load(m, { depth: opts.depth + 1, system: opts.system, checkPerm: true });
          if (child === undefined) continue;
          if ("error" in child) {
            file.errors.push({
              where: inc.where,
              message: `Can't open user config file ${m}: ${child.error.message}`,
            });
            continue;
          }
          inc.files.push(child);
        }
      }
    }
    return file;
  }
}
