/**
 * Hosts from ssh_config, resolved the way OpenSSH's readconf.c resolves them.
 *
 * Lines are tokenized by the `ssh-config` package (quoting, `Key=Value`, comments), but values are
 * resolved here rather than with its compute(), because compute() differs from OpenSSH where it
 * matters to us: `?` matches zero or one character (`Host web?` would match `web`), `Include` is
 * not followed, Host lines split on commas, and CanonicalizeHostname makes it spawn `nslookup`
 * synchronously. The resolver below follows readconf.c: directives apply while the current
 * Host/Match block is active, the first obtained value wins (IdentityFile accumulates), an Include
 * inside a block is read with that block's activity (and can never match when the block doesn't),
 * and `Match` sees the HostName/User obtained so far. `Match exec` (and the other criteria that
 * need commands, DNS or a second pass) are never evaluated: a config must not run commands inside
 * Scout, so such blocks are treated as not matching, with a warning.
 */
import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { homedir, hostname as osHostname, userInfo } from "node:os";
import { dirname, isAbsolute, join, resolve as resolvePath, sep } from "node:path";
import picomatch from "picomatch";
import SSHConfig, { type Line } from "ssh-config";
import { ScoutError } from "../errors.js";
import type { HostConfig } from "./host.js";

export interface ResolveContext {
  /** Local user name: the default remote User and the `%u` token. */
  localUser: string;
  /** Home directory: `~`, `%d`, relative Include paths (`~/.ssh/…`) and the default keys. */
  home: string;
}

export interface LoadedSshConfig {
  /** Every listed host (concrete `Host` aliases), resolved, in config order. */
  hosts: HostConfig[];
  warnings: string[];
  /** Every file read, the main config and its Includes. */
  files: string[];
  /** Directories whose entries can change the result (files' directories, Include glob roots). */
  watchDirs: string[];
  /** True when a change to `path` (created, replaced, deleted) can change the result. */
  affects(path: string): boolean;
  /** The parsed config, for resolveHost() of names that are not listed. */
  config: ParsedSshConfig;
}

/** Jump hosts per chain, and recursion depth of jump hosts' own ProxyJump (OpenSSH has no limit). */
export const MAX_JUMP_HOPS = 5;
/** OpenSSH's READCONF_MAX_DEPTH. */
const MAX_INCLUDE_DEPTH = 16;

// ---------------------------------------------------------------------------------------------
// Patterns

const patternCache = new Map<string, RegExp>();

/** OpenSSH match_pattern(): `*` any run, `?` exactly one character, everything else literal. */
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
 * OpenSSH match_pattern_list(): comma-separated patterns, `!` negates; true only when some pattern
 * matches and no negated one does. `lower` lowercases both sides (match_hostname()).
 */
export function matchPatternList(text: string, list: string, lower = false): boolean {
  const t = lower ? text.toLowerCase() : text;
  let hit = false;
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!");
    const p = lower ? (negated ? raw.slice(1) : raw).toLowerCase() : negated ? raw.slice(1) : raw;
    if (matchSshPattern(t, p)) {
      if (negated) return false;
      hit = true;
    }
  }
  return hit;
}

// ---------------------------------------------------------------------------------------------
// Parsed form

interface Where {
  file: string;
  line: number;
}

type MatchCriterion =
  | { negated: boolean; kind: "all" }
  | { negated: boolean; kind: "host" | "originalhost" | "user" | "localuser"; arg: string };

type Cond =
  | { kind: "host"; patterns: Array<{ negated: boolean; pattern: string }>; where: Where }
  /** `unsupported` set: the block never matches (warned about once when parsed). */
  | { kind: "match"; criteria: MatchCriterion[]; unsupported: string | undefined; where: Where };

type Item =
  | { kind: "set"; key: string; value: string; where: Where }
  | { kind: "include"; patterns: string[]; files: ParsedFile[]; where: Where };

interface ParsedFile {
  path: string;
  /** Directives before the first Host/Match line: they apply with the includer's activity. */
  pre: Item[];
  sections: Array<{ cond: Cond; body: Item[] }>;
}

/** A parsed config (with Includes read): the input of resolveHost(). */
export interface ParsedSshConfig {
  readonly root: ParsedFile;
  readonly ctx: ResolveContext;
}

function lineValues(line: Line & { value: unknown }): string[] {
  const v = line.value as string | Array<{ val: string }>;
  if (Array.isArray(v)) return v.map((x) => x.val);
  return v === "" ? [] : [v];
}

/** ssh-config's parser throws on the whole text for one bad line; find and drop those lines. */
function parseTolerant(text: string, path: string, warnings: string[]): SSHConfig {
  try {
    return SSHConfig.parse(text);
  } catch {
    const lines = text.split("\n");
    const kept = lines.map((l, i) => {
      try {
        SSHConfig.parse(l);
        return l;
      } catch (e) {
        warnings.push(
          `${path}:${i + 1}: cannot parse ${JSON.stringify(l.trim())} (${(e as Error).message}); line ignored`,
        );
        return "";
      }
    });
    try {
      return SSHConfig.parse(kept.join("\n"));
    } catch (e) {
      warnings.push(`${path}: cannot parse (${(e as Error).message}); file ignored`);
      return SSHConfig.parse("");
    }
  }
}

function parseMatch(values: string[], where: Where): Extract<Cond, { kind: "match" }> {
  const criteria: MatchCriterion[] = [];
  let unsupported: string | undefined;
  for (let i = 0; i < values.length; i++) {
    const token = values[i] ?? "";
    const negated = token.startsWith("!");
    const kw = (negated ? token.slice(1) : token).toLowerCase();
    if (kw === "all") {
      criteria.push({ negated, kind: "all" });
    } else if (kw === "canonical" || kw === "final") {
      unsupported ??= kw;
    } else if (kw === "host" || kw === "originalhost" || kw === "user" || kw === "localuser") {
      const arg = values[++i];
      if (arg === undefined) {
        unsupported ??= `${kw} without a value`;
        break;
      }
      criteria.push({ negated, kind: kw, arg });
    } else {
      // exec, localnetwork, tagged, …: would need commands, interfaces or a second pass.
      unsupported ??= kw || "(empty)";
      i++;
    }
  }
  return { kind: "match", criteria, unsupported, where };
}

/** Parses one file's text (Includes recorded, not read). Pure and synchronous. */
function parseFileText(text: string, path: string, warnings: string[]): ParsedFile {
  const parsed = parseTolerant(text, path, warnings);
  const file: ParsedFile = { path, pre: [], sections: [] };
  let lineNo = 1;
  const countNl = (s: string | undefined) => {
    let n = 0;
    if (s) for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
    return n;
  };
  let target = file.pre;
  const visit = (node: Line): void => {
    lineNo += countNl(node.before);
    const where = { file: path, line: lineNo };
    if (node.type === SSHConfig.DIRECTIVE) {
      const key = node.param.toLowerCase();
      const values = lineValues(node);
      if (key === "host") {
        const patterns = values.map((v) => ({
          negated: v.startsWith("!"),
          pattern: v.startsWith("!") ? v.slice(1) : v,
        }));
        if (patterns.length === 0) warnings.push(`${path}:${where.line}: Host without patterns`);
        target = [];
        file.sections.push({ cond: { kind: "host", patterns, where }, body: target });
      } else if (key === "match") {
        const cond = parseMatch(values, where);
        if (cond.unsupported) {
          warnings.push(
            `${path}:${where.line}: Match ${cond.unsupported} is not supported by Scout; that Match block is ignored`,
          );
        }
        target = [];
        file.sections.push({ cond, body: target });
      } else if (key === "include") {
        target.push({ kind: "include", patterns: values, files: [], where });
      } else if (values.length > 0) {
        target.push({ kind: "set", key, value: values.join(" "), where });
      }
    }
    lineNo += countNl(node.after);
    if ("config" in node) for (const child of node.config) visit(child);
  };
  for (const node of parsed) visit(node);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Reading files with Includes

function expandTilde(p: string, home: string): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return join(home, p.slice(2));
  return p;
}

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

/** Expands a glob path (absolute) into existing paths, sorted like glob(3). */
async function expandGlob(pattern: string): Promise<string[]> {
  const segments = pattern.split(sep);
  if (!segments.some(hasMagic)) return [pattern];
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
  return bases;
}

function globMatchesPath(pattern: string, path: string): boolean {
  const ps = pattern.split(sep);
  const xs = path.split(sep);
  if (ps.length !== xs.length) return false;
  return ps.every((p, i) => (hasMagic(p) ? segmentMatcher(p)(xs[i] ?? "") : p === xs[i]));
}

function globRoot(pattern: string): string {
  const segments = pattern.split(sep);
  const i = segments.findIndex(hasMagic);
  return i < 0 ? dirname(pattern) : segments.slice(0, i).join(sep) || sep;
}

class Loader {
  readonly warnings: string[] = [];
  readonly files: string[] = [];
  readonly globs: string[] = [];
  private readonly cache = new Map<string, Promise<{ text: string } | { error: NodeJS.ErrnoException }>>();

  constructor(private readonly ctx: ResolveContext) {}

  private read(path: string) {
    let p = this.cache.get(path);
    if (!p) {
      p = readFile(path, "utf8").then(
        (text) => {
          this.files.push(path);
          return { text };
        },
        (error: NodeJS.ErrnoException) => ({ error }),
      );
      this.cache.set(path, p);
    }
    return p;
  }

  async load(path: string, stack: string[]): Promise<ParsedFile | undefined> {
    const r = await this.read(path);
    if ("error" in r) {
      if (stack.length === 0) {
        this.warnings.push(
          r.error.code === "ENOENT"
            ? `ssh config ${path} does not exist: no hosts`
            : `Cannot read ssh config ${path}: ${r.error.message}`,
        );
      } else {
        this.warnings.push(`Cannot read included file ${path}: ${r.error.message}`);
      }
      return undefined;
    }
    // Parsed afresh per inclusion: the same file may be included from several blocks.
    const file = parseFileText(r.text, path, this.warnings);
    const includes = [...file.pre, ...file.sections.flatMap((s) => s.body)].filter(
      (i): i is Extract<Item, { kind: "include" }> => i.kind === "include",
    );
    for (const inc of includes) {
      for (const raw of inc.patterns) {
        const expanded = expandTilde(raw, this.ctx.home);
        // Relative includes are relative to ~/.ssh (user config), as in OpenSSH.
        const full = resolvePath(isAbsolute(expanded) ? expanded : join(this.ctx.home, ".ssh", expanded));
        this.globs.push(full);
        const matches = await expandGlob(full);
        if (matches.length === 0 && !full.split(sep).some(hasMagic)) {
          this.warnings.push(`${path}:${inc.where.line}: Include ${raw}: ${full} does not exist`);
        }
        for (const m of matches) {
          if (stack.includes(m) || m === path) {
            this.warnings.push(`${path}:${inc.where.line}: Include loop via ${m}; not included again`);
            continue;
          }
          if (stack.length + 1 >= MAX_INCLUDE_DEPTH) {
            this.warnings.push(
              `${path}:${inc.where.line}: Includes nested deeper than ${MAX_INCLUDE_DEPTH}; ${m} skipped`,
            );
            continue;
          }
          const child = await this.load(m, [...stack, path]);
          if (child) inc.files.push(child);
        }
      }
    }
    return file;
  }
}

// ---------------------------------------------------------------------------------------------
// Resolution

interface State {
  hostname?: string;
  user?: string;
  port?: string;
  identityFiles: Array<{ value: string; where: Where }>;
  identitiesOnly?: string;
  hostKeyAlias?: string;
  proxyJump?: string;
  proxyCommand?: string;
  portWhere?: Where;
  /** A Host line naming the alias literally (not negated) was active. */
  literalHit: boolean;
}

const SINGLE_KEYS: Record<string, keyof State> = {
  hostname: "hostname",
  user: "user",
  port: "port",
  identitiesonly: "identitiesOnly",
  hostkeyalias: "hostKeyAlias",
};

function defaultContext(opts: Partial<ResolveContext> = {}): ResolveContext {
  let user = opts.localUser;
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      // No passwd entry (some containers): fall back to the environment.
      user = process.env.USER ?? process.env.LOGNAME ?? "root";
    }
  }
  return { localUser: user, home: opts.home ?? homedir() };
}

/** Applies the config to one name, like readconf.c's process_config_files() for one host. */
function evaluate(config: ParsedSshConfig, alias: string, preset: { user?: string; port?: number }): State {
  const st: State = { identityFiles: [], literalHit: false };
  if (preset.user !== undefined) st.user = preset.user;
  if (preset.port !== undefined) st.port = String(preset.port);
  const { ctx } = config;

  const condActive = (cond: Cond): boolean => {
    if (cond.kind === "host") {
      let active = false;
      let literal = false;
      for (const p of cond.patterns) {
        if (matchSshPattern(alias, p.pattern)) {
          if (p.negated) return false;
          active = true;
          if (p.pattern === alias) literal = true;
        }
      }
      if (literal) st.literalHit = true;
      return active;
    }
    if (cond.unsupported) return false;
    // readconf.c match_cfg_line(): Match host sees HostName obtained so far (%h expanded).
    const host = st.hostname !== undefined ? expandHostName(st.hostname, alias) : alias;
    for (const c of cond.criteria) {
      let r: boolean;
      switch (c.kind) {
        case "all":
          r = true;
          break;
        case "host":
          r = matchPatternList(host, c.arg, true);
          break;
        case "originalhost":
          r = matchPatternList(alias, c.arg, true);
          break;
        case "user":
          r = matchPatternList(st.user ?? ctx.localUser, c.arg);
          break;
        case "localuser":
          r = matchPatternList(ctx.localUser, c.arg);
          break;
      }
      if (r === c.negated) return false;
    }
    return true;
  };

  const apply = (item: Extract<Item, { kind: "set" }>): void => {
    const k = item.key;
    if (k === "identityfile") {
      st.identityFiles.push({ value: item.value, where: item.where });
    } else if (k === "proxyjump" || k === "proxycommand") {
      // readconf.c: ProxyJump and ProxyCommand exclude each other; the first one obtained wins.
      if (st.proxyJump === undefined && st.proxyCommand === undefined) {
        if (k === "proxyjump") st.proxyJump = item.value;
        else st.proxyCommand = item.value;
      }
    } else {
      const field = SINGLE_KEYS[k];
      if (field && st[field] === undefined) {
        (st as unknown as Record<string, unknown>)[field] = item.value;
        if (field === "port") st.portWhere = item.where;
      }
    }
  };

  const runItems = (items: Item[], never: boolean): void => {
    for (const item of items) {
      if (item.kind === "set") apply(item);
      else for (const f of item.files) runFile(f, true, never);
    }
  };

  // `never`: the file was included from a block that is not active (SSHCONF_NEVERMATCH).
  const runFile = (file: ParsedFile, active: boolean, never: boolean): void => {
    if (active) runItems(file.pre, never);
    if (never) return;
    // Only the sections that can match this name, in file order (see sectionIndex()).
    for (const i of candidateSections(file, alias)) {
      const s = file.sections[i] as ParsedFile["sections"][number];
      if (condActive(s.cond)) runItems(s.body, never);
    }
  };
  runFile(config.root, true, false);
  return st;
}

/**
 * Which sections of a file can apply to a name. A `Host` block whose non-negated patterns are all
 * literal can only be active for exactly those names, so it is indexed by them; every other block
 * (wildcards, `Match`) is a candidate for every name. Resolving one alias then visits only its own
 * blocks plus the wildcard/Match ones, still in file order, instead of the whole config: listing
 * n hosts is O(n) rather than O(n²) for the usual one-block-per-host config.
 */
interface SectionIndex {
  /** Indices of sections that any name may activate, ascending. */
  always: number[];
  /** Literal name → indices of the literal-only Host sections naming it, ascending. */
  byName: Map<string, number[]>;
}

const sectionIndexes = new WeakMap<ParsedFile, SectionIndex>();

function sectionIndex(file: ParsedFile): SectionIndex {
  let idx = sectionIndexes.get(file);
  if (idx) return idx;
  idx = { always: [], byName: new Map() };
  file.sections.forEach((s, i) => {
    const positive = s.cond.kind === "host" ? s.cond.patterns.filter((p) => !p.negated) : [];
    if (s.cond.kind !== "host" || positive.some((p) => /[*?]/.test(p.pattern))) {
      (idx as SectionIndex).always.push(i);
      return;
    }
    // No positive pattern at all ("Host !x"): never active; indexed under no name.
    for (const name of new Set(positive.map((p) => p.pattern))) {
      const list = (idx as SectionIndex).byName.get(name);
      if (list) list.push(i);
      else (idx as SectionIndex).byName.set(name, [i]);
    }
  });
  sectionIndexes.set(file, idx);
  return idx;
}

/** Merges the always-candidates with the name's own sections, in file order. */
function candidateSections(file: ParsedFile, name: string): number[] {
  const { always, byName } = sectionIndex(file);
  const own = byName.get(name);
  if (!own) return always;
  if (always.length === 0) return own;
  const out: number[] = [];
  let a = 0;
  let b = 0;
  while (a < always.length || b < own.length) {
    const x = always[a];
    const y = own[b];
    if (y === undefined || (x !== undefined && x < y)) {
      out.push(x as number);
      a++;
    } else {
      out.push(y);
      b++;
    }
  }
  return out;
}

function expandHostName(value: string, alias: string): string {
  // OpenSSH expands only %h (the alias) and %% in HostName.
  return value.replace(/%([%h])/g, (_, c: string) => (c === "%" ? "%" : alias));
}

/** "[user@]host[:port]" or "ssh://[user@]host[:port]", IPv6 in brackets; OpenSSH parse_jump(). */
export function parseJumpSpec(spec: string): { user?: string; host: string; port?: number } | undefined {
  let s = spec.trim();
  const uri = /^ssh:\/\//i.test(s);
  if (uri) s = s.slice(6).replace(/\/$/, "");
  let user: string | undefined;
  const at = s.lastIndexOf("@");
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
    if (uri) user = decodeURIComponent(user.split(";")[0] ?? user);
  }
  let host = s;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracket) {
    host = bracket[1] ?? "";
    portText = bracket[2];
  } else if (s.includes(":")) {
    const i = s.lastIndexOf(":");
    host = s.slice(0, i);
    portText = s.slice(i + 1);
  }
  if (!host || host.includes(":") || (user !== undefined && user === "")) return undefined;
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return undefined;
  }
  return { host, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

interface ResolveInternal {
  preset: { user?: string; port?: number };
  /** Aliases on the current ProxyJump path (loop guard). */
  path: string[];
  /** Ignore the host's own ProxyJump: later hops of a "a,b" list are dialed with `-J` (ssh -J a b). */
  ignoreJump: boolean;
}

function shortWhere(w: Where | undefined): string {
  return w ? ` (${w.file}:${w.line})` : "";
}

function resolveInternal(
  config: ParsedSshConfig,
  alias: string,
  warnings: string[],
  o: ResolveInternal,
): HostConfig & { listed: boolean } {
  const { ctx } = config;
  const st = evaluate(config, alias, o.preset);
  const hostname = expandHostName(st.hostname ?? alias, alias).toLowerCase();
  const user = st.user ?? ctx.localUser;

  let port = 22;
  if (st.port !== undefined) {
    const n = Number(st.port);
    if (/^\d+$/.test(st.port) && n >= 1 && n <= 65535) port = n;
    else
      warnings.push(
        `Host ${alias}: invalid Port ${JSON.stringify(st.port)}${shortWhere(st.portWhere)}; using 22`,
      );
  }

  let identitiesOnly = false;
  if (st.identitiesOnly !== undefined) {
    const v = st.identitiesOnly.toLowerCase();
    if (v === "yes" || v === "true") identitiesOnly = true;
    else if (v !== "no" && v !== "false") {
      warnings.push(
        `Host ${alias}: IdentitiesOnly ${JSON.stringify(st.identitiesOnly)} is not yes/no; using no`,
      );
    }
  }

  const hostKeyAlias = st.hostKeyAlias?.toLowerCase(); // ssh.c lowercases it for known_hosts lookups.
  const jumpSpec = o.ignoreJump ? undefined : st.proxyJump;
  // Tokens are computed on first use: most configs use none, and the local host name, uid and the
  // %C hash cost system calls and hashing that would dominate listing a thousand hosts.
  const tokenValues: Record<string, () => string> = {
    "%": () => "%",
    d: () => ctx.home,
    h: () => hostname,
    i: () => String(typeof process.getuid === "function" ? process.getuid() : 0),
    j: () => (jumpSpec && jumpSpec.toLowerCase() !== "none" ? jumpSpec : ""),
    k: () => hostKeyAlias ?? alias,
    l: () => osHostname(),
    L: () => osHostname().split(".")[0] ?? "",
    n: () => alias,
    p: () => String(port),
    r: () => user,
    u: () => ctx.localUser,
    C: () => createHash("sha1").update(`${osHostname()}${hostname}${port}${user}`).digest("hex"),
  };

  const identityFiles: string[] = [];
  for (const { value, where } of st.identityFiles) {
    if (value.toLowerCase() === "none") continue;
    const expanded = expandTilde(value, ctx.home)
      .replace(/%(.)/g, (m, c: string) => {
        const t = tokenValues[c];
        if (t !== undefined) return t();
        warnings.push(
          `Host ${alias}: unknown token ${m} in IdentityFile ${value}${shortWhere(where)}; kept as is`,
        );
        return m;
      })
      .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => {
        const v = process.env[name];
        if (v !== undefined) return v;
        warnings.push(`Host ${alias}: environment variable ${name} in IdentityFile ${value} is not set`);
        return m;
      });
    // OpenSSH leaves relative paths relative to its working directory; a server has no meaningful
    // one, so they are taken relative to the home directory (where an interactive ssh usually runs).
    const full = isAbsolute(expanded) ? expanded : join(ctx.home, expanded);
    if (!identityFiles.includes(full)) identityFiles.push(full);
  }

  if (st.proxyCommand !== undefined && st.proxyCommand.toLowerCase() !== "none") {
    warnings.push(
      `Host ${alias}: ProxyCommand is not supported by Scout (use ProxyJump); connecting directly`,
    );
  }

  const proxyJump: HostConfig[] = [];
  if (jumpSpec !== undefined && jumpSpec.toLowerCase() !== "none") {
    const hops = jumpSpec.split(",").map((s) => ({ raw: s.trim(), spec: parseJumpSpec(s) }));
    const bad = hops.find((h) => !h.spec);
    if (bad) {
      throw new ScoutError("config", `Host ${alias}: cannot parse ProxyJump ${JSON.stringify(bad.raw)}`, {
        hint: "Use [user@]host[:port] or ssh://[user@]host[:port], comma-separated",
      });
    }
    const path = [...o.path, alias];
    hops.forEach((h, i) => {
      const spec = h.spec as NonNullable<typeof h.spec>;
      if (path.includes(spec.host)) {
        throw new ScoutError("config", `ProxyJump loop: ${[...path, spec.host].join(" → ")}`, {
          hint: `Break the loop, e.g. exclude the jump host from the pattern that sets ProxyJump (Host * !${spec.host})`,
        });
      }
      const jump = resolveInternal(config, spec.host, warnings, {
        preset: {
          ...(spec.user !== undefined ? { user: spec.user } : {}),
          ...(spec.port !== undefined ? { port: spec.port } : {}),
        },
        path,
        // Only the first hop's own ProxyJump is honored: ssh -J a,b runs "ssh -J a b" for b.
        ignoreJump: i > 0,
      });
      const { listed: _listed, proxyJump: own, ...flat } = jump;
      proxyJump.push(...own, { ...flat, proxyJump: [] });
    });
    if (proxyJump.length > MAX_JUMP_HOPS) {
      throw new ScoutError(
        "config",
        `Host ${alias}: ProxyJump chain has ${proxyJump.length} hops (${proxyJump.map((j) => j.alias).join(" → ")}); at most ${MAX_JUMP_HOPS} are supported`,
        { hint: "Shorten the chain" },
      );
    }
  }

  return {
    alias,
    hostname,
    port,
    user,
    identityFiles,
    identitiesOnly,
    proxyJump,
    ...(hostKeyAlias !== undefined ? { hostKeyAlias } : {}),
    listed: st.literalHit,
  };
}

/**
 * Resolves any name (a listed alias, a jump host, or a hostname that is not listed) through the
 * config, as `ssh NAME` would. Throws ScoutError("config") for a ProxyJump loop, an unparsable
 * ProxyJump or a chain longer than MAX_JUMP_HOPS. Non-fatal problems are appended to `warnings`.
 */
export function resolveHost(
  config: ParsedSshConfig,
  alias: string,
  opts: { user?: string; port?: number; warnings?: string[] } = {},
): HostConfig {
  const preset = {
    ...(opts.user !== undefined ? { user: opts.user } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
  };
  const { listed: _listed, ...host } = resolveInternal(config, alias, opts.warnings ?? [], {
    preset,
    path: [],
    ignoreJump: false,
  });
  return host;
}

/** Concrete aliases (no wildcard, not negated) on reachable Host lines, in order, deduplicated. */
function concreteAliases(root: ParsedFile): string[] {
  const out = new Set<string>();
  const walkItems = (items: Item[]) => {
    for (const i of items) if (i.kind === "include") i.files.forEach(walk);
  };
  const walk = (f: ParsedFile) => {
    walkItems(f.pre);
    for (const s of f.sections) {
      if (s.cond.kind === "host") {
        for (const p of s.cond.patterns) if (!p.negated && !/[*?]/.test(p.pattern)) out.add(p.pattern);
      }
      walkItems(s.body);
    }
  };
  walk(root);
  return [...out];
}

function listHosts(config: ParsedSshConfig, warnings: string[]): HostConfig[] {
  const hosts: HostConfig[] = [];
  for (const alias of concreteAliases(config.root)) {
    try {
      const { listed, ...h } = resolveInternal(config, alias, warnings, {
        preset: {},
        path: [],
        ignoreJump: false,
      });
      // e.g. "Host a !a", or a Host line in a file included from a block that never matches it.
      if (listed) hosts.push(h);
    } catch (e) {
      if (!(e instanceof ScoutError)) throw e;
      // Still listed, so that an agent using it learns why it cannot connect (not "Unknown host");
      // the connection layer refuses it with this text. Resolved without its ProxyJump for display.
      const { listed, ...h } = resolveInternal(config, alias, [], {
        preset: {},
        path: [],
        ignoreJump: true,
      });
      warnings.push(`${e.userText}; connections to ${alias} will fail until the config is fixed`);
      if (listed) hosts.push({ ...h, configError: e.userText });
    }
  }
  return hosts;
}

/**
 * Pure, synchronous variant for tests and benchmarks: config text in, hosts out. Include lines are
 * not followed (that needs the file system) and produce a warning.
 */
export function parseSshConfigText(
  text: string,
  opts: Partial<ResolveContext> & { path?: string } = {},
): { hosts: HostConfig[]; warnings: string[]; config: ParsedSshConfig } {
  const warnings: string[] = [];
  const root = parseFileText(text, opts.path ?? "(text)", warnings);
  const hasInclude = [...root.pre, ...root.sections.flatMap((s) => s.body)].some((i) => i.kind === "include");
  if (hasInclude) warnings.push("Include is not followed when parsing text; use loadSshConfig()");
  const config: ParsedSshConfig = { root, ctx: defaultContext(opts) };
  return { hosts: listHosts(config, warnings), warnings, config };
}

/** Reads `path` (and its Includes) without blocking; a missing file gives zero hosts and a warning. */
export async function loadSshConfig(
  path: string,
  opts: Partial<ResolveContext> = {},
): Promise<LoadedSshConfig> {
  const ctx = defaultContext(opts);
  const full = resolvePath(path);
  const loader = new Loader(ctx);
  const root = (await loader.load(full, [])) ?? { path: full, pre: [], sections: [] };
  const config: ParsedSshConfig = { root, ctx };
  const warnings = loader.warnings;
  const hosts = listHosts(config, warnings);
  const files = [...new Set(loader.files)];
  const globs = [...new Set(loader.globs)];
  const watchDirs = [...new Set([dirname(full), ...files.map((f) => dirname(f)), ...globs.map(globRoot)])];
  const fileSet = new Set([full, ...files]);
  return {
    hosts,
    warnings: [...new Set(warnings)],
    files,
    watchDirs,
    affects: (p) => {
      const r = resolvePath(p);
      return fileSet.has(r) || globs.some((g) => globMatchesPath(g, r) || g.startsWith(r + sep));
    },
    config,
  };
}
