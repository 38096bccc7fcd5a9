/**
 * Hosts from ssh_config, resolved the way OpenSSH 9.2 resolves them (`ssh -G` is the oracle, see
 * test/config/differential.test.ts). Modules: tokenize (readconf.c line splitting), keywords
 * (what each keyword accepts), parse (a file → checked directives), include (reading files,
 * globs, permissions), patterns/match (Host and Match), expand (`~`, `%`, `${}`), resolve (the
 * passes, canonicalization, defaults, ProxyJump hops). This file loads configs and lists hosts.
 */
import { spawn, spawnSync } from "node:child_process";
import { lookup as dnsLookup } from "node:dns/promises";
import { hostname as osHostname, userInfo } from "node:os";
import { dirname, join, resolve as resolvePath, sep } from "node:path";
import { ScoutError } from "../../errors.js";
import type { HostConfig } from "../host.js";
import { Loader, globMatchesPath, globRoot } from "./include.js";
import { filesOf, parseFileText, type ParsedFile } from "./parse.js";
import {
  Need,
  resolveInternal,
  type ExecResult,
  type ParsedSshConfig,
  type ResolveContext,
} from "./resolve.js";

export { MAX_JUMP_HOPS, DEFAULT_IDENTITIES } from "./resolve.js";
export type { ParsedSshConfig, ResolveContext } from "./resolve.js";
export { matchPatternList, matchSshPattern } from "./patterns.js";

/** Default of SCOUT_SSH_SYSTEM_CONFIG (ssh's _PATH_HOST_CONFIG_FILE). */
export const SYSTEM_CONFIG = "/etc/ssh/ssh_config";

export interface LoadOptions extends Partial<ResolveContext> {
  /** System-wide file read after the user's; null: none. Default /etc/ssh/ssh_config. */
  systemConfigPath?: string | null;
  /** `~` in Include patterns (glob(3) uses $HOME). Default: $HOME, else `home`. */
  includeHome?: string;
  /** Milliseconds a Match exec may run before it counts as failed. */
  matchExecTimeoutMs?: number;
}

export interface LoadedSshConfig {
  /** Every listed host (concrete `Host` aliases), resolved, in config order. */
  hosts: HostConfig[];
  warnings: string[];
  /** The fatal problem that makes ssh refuse the whole config, if any ("FILE:LINE: …"). */
  error: string | undefined;
  /** Every file read: the user config, the system config and their Includes. */
  files: string[];
  /** Directories whose entries can change the result (files' directories, Include glob roots). */
  watchDirs: string[];
  /** True when a change to `path` (created, replaced, deleted) can change the result. */
  affects(path: string): boolean;
  /** The parsed config, for resolveHost() of names that are not listed. */
  config: ParsedSshConfig;
  /** Milliseconds a Match exec may run. */
  execTimeoutMs: number;
}

const DEFAULT_EXEC_TIMEOUT_MS = 10_000;

function defaultContext(opts: Partial<ResolveContext> = {}): ResolveContext {
  let user = opts.localUser;
  let home = opts.home;
  if (user === undefined || home === undefined) {
    try {
      const u = userInfo();
      user ??= u.username;
      home ??= u.homedir;
    } catch {
      // No passwd entry (some containers): fall back to the environment.
      user ??= process.env.USER ?? process.env.LOGNAME ?? "root";
      home ??= process.env.HOME ?? "/";
    }
  }
  return {
    localUser: user,
    home,
    uid: opts.uid ?? (typeof process.getuid === "function" ? process.getuid() : 0),
    thisHost: opts.thisHost ?? osHostname(),
    matchExec: opts.matchExec ?? true,
  };
}

function firstError(files: Array<ParsedFile | undefined>): string | undefined {
  for (const root of files) {
    if (!root) continue;
    for (const f of filesOf(root)) {
      const e = f.errors[0];
      if (e) return `${e.where.line > 0 ? `${e.where.file}:${e.where.line}` : e.where.file}: ${e.message}`;
    }
  }
  return undefined;
}

function makeConfig(
  user: ParsedFile | undefined,
  system: ParsedFile | undefined,
  ctx: ResolveContext,
): ParsedSshConfig {
  const all = [user, system].flatMap((r) => (r ? [...filesOf(r)] : []));
  return {
    user,
    system,
    ctx,
    staticError: firstError([user, system]),
    wantsFinal: all.some((f) => f.wantsFinal),
    fullWalk: all.some((f) => f.hasUnknown),
    execResults: new Map(),
    lookups: new Map(),
  };
}

function shell(): string {
  return process.env.SHELL || "/bin/sh";
}

function execResultOf(
  status: number | null,
  signal: string | null,
  error: Error | undefined,
  timeoutMs: number,
): ExecResult {
  if (error && (error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
    return { status: "error", message: `timed out after ${timeoutMs / 1000} s (SCOUT_MATCH_EXEC_TIMEOUT)` };
  }
  if (error) return { status: "error", message: error.message };
  if (status === null) return { status: "error", message: `exited abnormally (${signal ?? "signal"})` };
  return { status: status === 0 ? "match" : "nomatch" };
}

function runExecSync(cmd: string, timeoutMs: number): ExecResult {
  const r = spawnSync(shell(), ["-c", cmd], { stdio: "ignore", timeout: timeoutMs });
  return execResultOf(r.status, r.signal, r.error, timeoutMs);
}

function runExec(cmd: string, timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolveP) => {
    const child = spawn(shell(), ["-c", cmd], { stdio: "ignore" });
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(t);
      resolveP({ status: "error", message: e.message });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(t);
      const err = timedOut ? Object.assign(new Error("timeout"), { code: "ETIMEDOUT" }) : undefined;
      resolveP(execResultOf(code, signal, err, timeoutMs));
    });
  });
}

async function resolvable(name: string): Promise<boolean> {
  try {
    await dnsLookup(name);
    return true;
  } catch {
    return false;
  }
}

/** Runs the synchronous evaluator, answering what it asks for (Match exec, DNS) in between. */
async function drive<T>(config: ParsedSshConfig, timeoutMs: number, fn: () => T): Promise<T> {
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof Need)) throw e;
      if (e.kind === "exec") config.execResults.set(e.key, await runExec(e.key, timeoutMs));
      else config.lookups.set(e.key, await resolvable(e.key));
    }
  }
}

/** Synchronous variant: Match exec runs blocking; DNS is not consulted (names do not resolve). */
function driveSync<T>(config: ParsedSshConfig, timeoutMs: number, fn: () => T): T {
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof Need)) throw e;
      if (e.kind === "exec") config.execResults.set(e.key, runExecSync(e.key, timeoutMs));
      else config.lookups.set(e.key, false);
    }
  }
}

export interface ResolveHostOptions {
  user?: string;
  port?: number;
}

function resolveOpts(opts: ResolveHostOptions) {
  return {
    preset: {
      ...(opts.user !== undefined ? { user: opts.user } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
    },
    path: [],
    ignoreJump: false,
  };
}

/**
 * Resolves any name (a listed alias, a jump host, or a hostname that is not listed) through the
 * config, as `ssh NAME` would. Throws ScoutError("config") for whatever ssh would refuse (a
 * config that does not parse, an unknown keyword, a bad token…) and for a ProxyJump loop or a
 * chain longer than MAX_JUMP_HOPS. Match exec runs blocking here; see resolveHostAsync().
 */
export function resolveHost(
  config: ParsedSshConfig,
  alias: string,
  opts: ResolveHostOptions = {},
): HostConfig {
  const { listed: _listed, ...host } = driveSync(config, DEFAULT_EXEC_TIMEOUT_MS, () =>
    resolveInternal(config, alias, resolveOpts(opts)),
  );
  return host;
}

/** resolveHost() without blocking: Match exec commands and DNS lookups run asynchronously. */
export async function resolveHostAsync(
  config: ParsedSshConfig,
  alias: string,
  opts: ResolveHostOptions & { execTimeoutMs?: number } = {},
): Promise<HostConfig> {
  const { listed: _listed, ...host } = await drive(
    config,
    opts.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
    () => resolveInternal(config, alias, resolveOpts(opts)),
  );
  return host;
}

/** Concrete aliases (no wildcard, not negated) on Host lines, in order, deduplicated. */
function concreteAliases(config: ParsedSshConfig): string[] {
  const out = new Set<string>();
  for (const root of [config.user, config.system]) {
    if (!root) continue;
    for (const f of filesOf(root)) {
      for (const s of f.sections) {
        if (s.cond.kind !== "host") continue;
        for (const p of s.cond.patterns) if (!p.negated && !/[*?]/.test(p.pattern)) out.add(p.pattern);
      }
    }
  }
  return [...out];
}

/** The entry of a host that can never connect: listed so that using it says why. */
function brokenHost(config: ParsedSshConfig, alias: string, error: string): HostConfig {
  return {
    alias,
    hostname: alias,
    port: 22,
    user: config.ctx.localUser,
    identityFiles: [],
    identitiesOnly: false,
    proxyJump: [],
    configError: error,
  };
}

type Resolver = (alias: string, ignoreJump: boolean) => HostConfig & { listed: boolean };

function listHosts(config: ParsedSshConfig, warnings: string[], resolveFn: Resolver): HostConfig[] {
  if (config.staticError !== undefined) {
    warnings.push(
      `ssh config refused (as ssh refuses it): ${config.staticError}; connections fail until it is fixed`,
    );
    const text = new ScoutError("config", config.staticError, {
      hint: "ssh refuses this config too (ssh -G shows the same); fix that line",
    }).userText;
    return concreteAliases(config).map((a) => brokenHost(config, a, text));
  }
  const hosts: HostConfig[] = [];
  const seen = new Set<string>();
  for (const alias of concreteAliases(config)) {
    try {
      const { listed, ...h } = resolveFn(alias, false);
      // e.g. "Host a !a", or a Host line in a file included from a block that never matches it.
      if (!listed) continue;
      for (const w of h.warnings ?? []) {
        if (!seen.has(w)) {
          seen.add(w);
          warnings.push(`Host ${alias}: ${w}`);
        }
      }
      hosts.push(h);
    } catch (e) {
      if (!(e instanceof ScoutError)) throw e;
      // Still listed, so that an agent using it learns why it cannot connect (not "Unknown host");
      // the connection layer refuses it with this text. Resolved without its ProxyJump for display.
      warnings.push(`${e.userText}; connections to ${alias} will fail until the config is fixed`);
      let shown: HostConfig;
      try {
        const { listed, ...h } = resolveFn(alias, true);
        if (!listed) continue;
        shown = { ...h, configError: e.userText };
      } catch {
        shown = brokenHost(config, alias, e.userText);
      }
      hosts.push(shown);
    }
  }
  return hosts;
}

function syncResolver(config: ParsedSshConfig, timeoutMs: number): Resolver {
  return (alias, ignoreJump) =>
    driveSync(config, timeoutMs, () => resolveInternal(config, alias, { preset: {}, path: [], ignoreJump }));
}

/** Answers every Match exec and DNS question of listing the hosts ahead, without blocking. */
async function prefetch(config: ParsedSshConfig, timeoutMs: number): Promise<void> {
  if (config.staticError !== undefined) return;
  for (const alias of concreteAliases(config)) {
    for (const ignoreJump of [false, true]) {
      try {
        await drive(config, timeoutMs, () =>
          resolveInternal(config, alias, { preset: {}, path: [], ignoreJump }),
        );
        break;
      } catch {
        // Resolution errors are reported by listHosts().
      }
    }
  }
}

/** Whether resolution may ask for a Match exec or a DNS answer. */
function hasAsk(config: ParsedSshConfig): boolean {
  for (const root of [config.user, config.system]) {
    if (!root) continue;
    for (const f of filesOf(root)) {
      for (const s of f.sections) {
        if (s.cond.kind === "match" && s.cond.criteria.some((c) => c.kind === "exec")) return true;
        for (const i of s.body) if (i.kind === "set" && i.op.startsWith("canonical")) return true;
      }
      for (const i of f.pre) if (i.kind === "set" && i.op.startsWith("canonical")) return true;
    }
  }
  return false;
}

/**
 * Pure variant for tests and benchmarks: config text in, hosts out. Include lines are not followed
 * (that needs the file system) and produce a warning; no system file unless `systemText`.
 */
export function parseSshConfigText(
  text: string,
  opts: Partial<ResolveContext> & { path?: string; systemText?: string } = {},
): { hosts: HostConfig[]; warnings: string[]; config: ParsedSshConfig } {
  const warnings: string[] = [];
  const user = parseFileText(text, opts.path ?? "(text)");
  const system = opts.systemText !== undefined ? parseFileText(opts.systemText, "(system)", true) : undefined;
  if (
    [user, system].some(
      (f) => f && [...f.pre, ...f.sections.flatMap((s) => s.body)].some((i) => i.kind === "include"),
    )
  ) {
    warnings.push("Include is not followed when parsing text; use loadSshConfig()");
  }
  const config = makeConfig(user, system, defaultContext(opts));
  const hosts = listHosts(config, warnings, syncResolver(config, DEFAULT_EXEC_TIMEOUT_MS));
  return { hosts, warnings, config };
}

/**
 * Reads `path` (the user's config; when it is ~/.ssh/config its owner and permissions are checked
 * as ssh checks them) and the
 * system config, with their Includes, without blocking. A missing user file gives zero hosts and
 * a warning; a file ssh would refuse lists its hosts with `configError`.
 */
export async function loadSshConfig(path: string, opts: LoadOptions = {}): Promise<LoadedSshConfig> {
  const ctx = defaultContext(opts);
  const full = resolvePath(path);
  const includeHome =
    opts.includeHome ?? (opts.home !== undefined ? opts.home : process.env.HOME || ctx.home);
  const loader = new Loader({ includeHome, uid: ctx.uid });
  const warnings: string[] = [];
  // ssh checks owner and permissions of ~/.ssh/config (not of a file given with -F) and of
  // every included file.
  const userR = await loader.load(full, {
    depth: 0,
    system: false,
    checkPerm: full === join(ctx.home, ".ssh", "config"),
  });
  let user: ParsedFile | undefined;
  if (userR === undefined) warnings.push(`ssh config ${full} does not exist: no hosts`);
  else if ("error" in userR) warnings.push(`Cannot read ssh config ${full}: ${userR.error.message}`);
  else user = userR;
  const sysPath = opts.systemConfigPath === undefined ? SYSTEM_CONFIG : opts.systemConfigPath;
  let system: ParsedFile | undefined;
  if (sysPath !== null) {
    const r = await loader.load(resolvePath(sysPath), { depth: 0, system: true, checkPerm: false });
    if (r !== undefined && "error" in r)
      warnings.push(`Cannot read ssh config ${sysPath}: ${r.error.message}`);
    else system = r;
  }
  const config = makeConfig(user, system, ctx);
  const timeoutMs = opts.matchExecTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  // Only configs with Match exec or canonicalization have questions to answer first.
  if (config.wantsFinal || hasAsk(config)) await prefetch(config, timeoutMs);
  const hosts = listHosts(config, warnings, syncResolver(config, timeoutMs));
  const files = [...new Set(loader.files)];
  const globs = [...new Set(loader.globs)];
  const roots = [full, ...(sysPath !== null ? [resolvePath(sysPath)] : [])];
  const watchDirs = [
    ...new Set([...roots.map((r) => dirname(r)), ...files.map((f) => dirname(f)), ...globs.map(globRoot)]),
  ];
  const fileSet = new Set([...roots, ...files]);
  return {
    hosts,
    warnings: [...new Set([...warnings, ...loader.warnings])],
    error: config.staticError,
    files,
    watchDirs,
    affects: (p) => {
      const r = resolvePath(p);
      return fileSet.has(r) || globs.some((g) => globMatchesPath(g, r) || g.startsWith(r + sep));
    },
    config,
    execTimeoutMs: timeoutMs,
  };
}
