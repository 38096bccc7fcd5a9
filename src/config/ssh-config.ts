/**
 * Hosts from ssh_config, resolved the way OpenSSH resolves them (first obtained value wins, Host
 * patterns and negation, `Host *` defaults) using the `ssh-config` package's compute(). The
 * package does not follow `Include`, so includes are expanded here (globs, relative to ~/.ssh,
 * nested, loop-guarded) before parsing. `Match exec` is never evaluated: a config must not run
 * commands inside Scout.
 */
import { readFile, readdir } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { basename, dirname, isAbsolute, join } from "node:path";
import picomatch from "picomatch";
import SSHConfig from "ssh-config";
import type { HostConfig } from "./host.js";

export interface ResolveContext {
  localUser: string;
  home: string;
}

export interface LoadedSshConfig {
  hosts: HostConfig[];
  warnings: string[];
  /** Every file read, includes too (the registry watches them). */
  files: string[];
}

const MAX_INCLUDE_DEPTH = 16;
const MAX_JUMP_DEPTH = 5;

function defaultContext(opts: Partial<ResolveContext> = {}): ResolveContext {
  let user = process.env.USER ?? "root";
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry: keep $USER */
  }
  return { localUser: opts.localUser ?? user, home: opts.home ?? homedir() };
}

function expandTilde(p: string, home: string): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return join(home, p.slice(2));
  return p;
}

async function expandGlob(pattern: string): Promise<string[]> {
  if (!/[*?[]/.test(pattern)) return [pattern];
  const dir = dirname(pattern);
  const match = picomatch(basename(pattern), { dot: false });
  try {
    return (await readdir(dir))
      .filter((n) => match(n))
      .sort()
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** Reads a config file with its Includes inlined. */
async function readWithIncludes(
  path: string,
  ctx: ResolveContext,
  seen: string[],
  files: string[],
  warnings: string[],
): Promise<string> {
  if (seen.includes(path) || seen.length >= MAX_INCLUDE_DEPTH) {
    warnings.push(`Include loop or too deep nesting at ${path}; skipped`);
    return "";
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (seen.length === 0) warnings.push(`Cannot read ssh config ${path}: ${(e as Error).message}`);
    else warnings.push(`Cannot read included file ${path}: ${(e as Error).message}`);
    return "";
  }
  files.push(path);
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*include(?:\s+|\s*=\s*)(.+?)\s*$/i.exec(line);
    if (!m?.[1]) {
      out.push(line);
      continue;
    }
    for (const raw of m[1].split(/\s+/)) {
      const unquoted = raw.replace(/^"(.*)"$/, "$1");
      const expanded = expandTilde(unquoted, ctx.home);
      // Relative includes are relative to ~/.ssh (user config), as in OpenSSH.
      const full = isAbsolute(expanded) ? expanded : join(ctx.home, ".ssh", expanded);
      for (const f of await expandGlob(full)) {
        out.push(await readWithIncludes(f, ctx, [...seen, path], files, warnings));
      }
    }
  }
  return out.join("\n");
}

/** The concrete aliases named on Host lines, in order (no wildcards, no negations). */
function concreteAliases(config: SSHConfig): string[] {
  const aliases: string[] = [];
  const seen = new Set<string>();
  for (const line of config) {
    if (line.type !== SSHConfig.DIRECTIVE || line.param.toLowerCase() !== "host") continue;
    const values = Array.isArray(line.value) ? line.value.map((v) => v.val) : String(line.value).split(/\s+/);
    for (const v of values) {
      if (!v || v.startsWith("!") || /[*?]/.test(v) || seen.has(v)) continue;
      seen.add(v);
      aliases.push(v);
    }
  }
  return aliases;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function all(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function expandTokens(
  s: string,
  t: { h: string; u: string; r: string; d: string; n: string; p: number },
): string {
  return s.replace(/%([%hurdnp])/g, (_, c: string) => {
    switch (c) {
      case "%":
        return "%";
      case "h":
        return t.h;
      case "u":
        return t.u;
      case "r":
        return t.r;
      case "d":
        return t.d;
      case "n":
        return t.n;
      default:
        return String(t.p);
    }
  });
}

/** Parses "[user@]host[:port]" or "ssh://[user@]host[:port]". */
export function parseJumpSpec(spec: string): { user?: string; host: string; port?: number } {
  let s = spec.trim().replace(/^ssh:\/\//, "");
  let user: string | undefined;
  const at = s.lastIndexOf("@");
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
  }
  let port: number | undefined;
  const bracket = /^\[(.+)\](?::(\d+))?$/.exec(s);
  if (bracket?.[1]) {
    s = bracket[1];
    if (bracket[2]) port = Number(bracket[2]);
  } else {
    const m = /^([^:]+):(\d+)$/.exec(s);
    if (m?.[1] && m[2]) {
      s = m[1];
      port = Number(m[2]);
    }
  }
  return { host: s, ...(user ? { user } : {}), ...(port ? { port } : {}) };
}

export class SshConfigResolver {
  constructor(
    readonly config: SSHConfig,
    readonly ctx: ResolveContext,
    private readonly warnings: string[] = [],
  ) {}

  /** Resolves an alias (or any name) with its config; `overrides` come from a ProxyJump spec. */
  resolve(
    alias: string,
    overrides: { user?: string; port?: number } = {},
    depth = 0,
    chain: string[] = [],
  ): HostConfig {
    const c = this.config.compute(alias, { ignoreCase: true, matchExec: false });
    const hostnameRaw = first(c.hostname) ?? alias;
    const hostname = expandTokens(hostnameRaw, {
      h: alias,
      u: this.ctx.localUser,
      r: "",
      d: this.ctx.home,
      n: alias,
      p: 22,
    });
    const user = overrides.user ?? first(c.user) ?? this.ctx.localUser;
    let port = overrides.port ?? 22;
    if (overrides.port === undefined && c.port !== undefined) {
      const n = Number(first(c.port));
      if (Number.isInteger(n) && n > 0 && n < 65536) port = n;
      else this.warnings.push(`Host ${alias}: invalid Port ${JSON.stringify(first(c.port))}, using 22`);
    }
    const tokens = { h: hostname, u: this.ctx.localUser, r: user, d: this.ctx.home, n: alias, p: port };
    const identityFiles = all(c.identityfile)
      .filter((f) => f.toLowerCase() !== "none")
      .map((f) => {
        const expanded = expandTilde(expandTokens(f.replace(/^"(.*)"$/, "$1"), tokens), this.ctx.home);
        return isAbsolute(expanded) ? expanded : join(this.ctx.home, expanded);
      });
    const identitiesOnly = (first(c.identitiesonly) ?? "no").toLowerCase() === "yes";
    const hostKeyAlias = first(c.hostkeyalias);
    const proxyJump: HostConfig[] = [];
    const jumpSpec = first(c.proxyjump);
    if (jumpSpec && jumpSpec.toLowerCase() !== "none") {
      if (depth >= MAX_JUMP_DEPTH || chain.includes(alias)) {
        this.warnings.push(`Host ${alias}: ProxyJump loop or chain deeper than ${MAX_JUMP_DEPTH}; ignored`);
      } else {
        for (const spec of jumpSpec.split(",")) {
          const j = parseJumpSpec(spec);
          const jumpHost = this.resolve(
            j.host,
            { ...(j.user ? { user: j.user } : {}), ...(j.port ? { port: j.port } : {}) },
            depth + 1,
            [...chain, alias],
          );
          // A jump host's own ProxyJump comes first (OpenSSH chains them recursively).
          proxyJump.push(...jumpHost.proxyJump, { ...jumpHost, proxyJump: [] });
        }
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
      ...(hostKeyAlias ? { hostKeyAlias } : {}),
    };
  }

  hosts(): HostConfig[] {
    return concreteAliases(this.config).map((a) => this.resolve(a));
  }
}

/** Pure variant for tests and benchmarks: text in, hosts out (Includes are not followed). */
export function parseSshConfigText(
  text: string,
  ctx: Partial<ResolveContext> = {},
): { hosts: HostConfig[]; warnings: string[] } {
  const warnings: string[] = [];
  const resolver = new SshConfigResolver(SSHConfig.parse(text), defaultContext(ctx), warnings);
  return { hosts: resolver.hosts(), warnings };
}

export async function loadSshConfig(
  path: string,
  opts: Partial<ResolveContext> = {},
): Promise<LoadedSshConfig & { resolver: SshConfigResolver }> {
  const ctx = defaultContext(opts);
  const warnings: string[] = [];
  const files: string[] = [];
  const text = await readWithIncludes(path, ctx, [], files, warnings);
  let config: SSHConfig;
  try {
    config = SSHConfig.parse(text);
  } catch (e) {
    warnings.push(`Cannot parse ssh config ${path}: ${(e as Error).message}`);
    config = SSHConfig.parse("");
  }
  const resolver = new SshConfigResolver(config, ctx, warnings);
  const hosts = resolver.hosts();
  return { hosts, warnings, files, resolver };
}
