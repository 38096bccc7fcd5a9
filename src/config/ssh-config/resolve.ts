/**
 * Resolving one name through the parsed user and system configs, as ssh.c main() and readconf.c
 * do for `ssh -G NAME`: first pass over the user file then the system file (first obtained value
 * wins; IdentityFile/CertificateFile accumulate), hostname canonicalization, a final pass when a
 * `Match final` exists or canonicalization is on, defaults, then ProxyJump hops resolved the way
 * `ssh -J` resolves them. The evaluation is synchronous; a Match exec result or a DNS answer it
 * does not have yet is requested by throwing `Need`, and the caller retries once it has it.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { ScoutError } from "../../errors.js";
import type { HostConfig } from "../host.js";
import { percentExpand, tildeExpand, type Tokens } from "./expand.js";
import type { Value } from "./keywords.js";
import { hostActive, matchActive } from "./match.js";
import type { Cond, Item, ParsedFile, Where } from "./parse.js";
import { matchPatternList } from "./patterns.js";
import { formatJump, type JumpValue, type UserHostPort } from "./values.js";
import { candidateSections } from "./section-index.js";

/** Jump hosts per chain, and recursion depth of jump hosts' own ProxyJump (OpenSSH has no limit). */
export const MAX_JUMP_HOPS = 5;

export interface ResolveContext {
  /** Local user name: the default remote User, `%u`, Match localuser. */
  localUser: string;
  /** The passwd entry's home: `~`, `%d` and the default keys. */
  home: string;
  uid: number;
  /** gethostname(): `%l`, `%L`, `%C`. */
  thisHost: string;
  /** Run Match exec commands (SCOUT_MATCH_EXEC); off: they do not match, with a warning. */
  matchExec: boolean;
}

export type ExecResult = { status: "match" | "nomatch" } | { status: "error"; message: string };

/** A parsed config (user file, system file, their Includes): the input of resolution. */
export interface ParsedSshConfig {
  readonly user: ParsedFile | undefined;
  readonly system: ParsedFile | undefined;
  readonly ctx: ResolveContext;
  /** The first fatal parse problem of any file read, "FILE:LINE: message". */
  readonly staticError: string | undefined;
  readonly wantsFinal: boolean;
  /** Some file has an unknown keyword: every line must be visited. */
  readonly fullWalk: boolean;
  /** Match exec results and DNS answers, by expanded command / name, for this load. */
  readonly execResults: Map<string, ExecResult>;
  readonly lookups: Map<string, boolean>;
}

/** Thrown by the evaluator for an answer it needs first (see the module comment). */
export class Need {
  constructor(
    readonly kind: "exec" | "lookup",
    readonly key: string,
  ) {}
}

interface Setting {
  value: Value;
  where: Where;
  system: boolean;
}

interface State {
  values: Map<string, Setting>;
  identityFiles: Array<{ path: string; system: boolean; where: Where }>;
  certificateFiles: Array<{ path: string; system: boolean; where: Where }>;
  /** ProxyCommand as obtained; "none" when ProxyJump came first (readconf.c sets it so). */
  proxyCommand?: string;
  /** ProxyJump as obtained, or "cmdline" for a later `ssh -J` hop (its own is ignored). */
  jump?: JumpValue | "cmdline";
  jumpWhere?: Where;
  /** A Host line naming the alias literally (not negated) was active in the first pass. */
  literalHit: boolean;
  errors: string[];
  warnings: string[];
}

const TIME_OPS = new Set(["connecttimeout", "serveraliveinterval", "forwardx11timeout", "setuptimeout"]);

function at(w: Where): string {
  return w.line > 0 ? `${w.file}:${w.line}` : w.file;
}

function str(st: State, op: string): string | undefined {
  const s = st.values.get(op);
  return s && s.value.t === "str" ? s.value.v : undefined;
}
function num(st: State, op: string): number | undefined {
  const s = st.values.get(op);
  return s && s.value.t === "num" ? s.value.v : undefined;
}
function list(st: State, op: string): string[] | undefined {
  const s = st.values.get(op);
  return s && s.value.t === "list" ? s.value.v : undefined;
}

function apply(st: State, item: Extract<Item, { kind: "set" }>, system: boolean): void {
  const { op, value } = item;
  if (op === "identityfile" || op === "certificatefile") {
    const arr = op === "identityfile" ? st.identityFiles : st.certificateFiles;
    const path = value.t === "str" ? value.v : "";
    // add_identity_file(): a duplicate from the same kind of file is dropped.
    if (!arr.some((x) => x.path === path && x.system === system))
      arr.push({ path, system, where: item.where });
    return;
  }
  if (op === "proxycommand") {
    if (st.jump === undefined && st.proxyCommand === undefined && value.t === "str")
      st.proxyCommand = value.v;
    return;
  }
  if (op === "proxyjump") {
    if (st.jump === undefined && st.proxyCommand === undefined && value.t === "jump") {
      st.jump = value.v;
      st.jumpWhere = item.where;
      if (!value.v.none) st.proxyCommand = "none";
    }
    return;
  }
  // parse_time(): "none" is -1, the same as unset, so a later line may still set the option.
  if (TIME_OPS.has(op) && value.t === "num" && value.v === -1) return;
  if (!st.values.has(op)) st.values.set(op, { value, where: item.where, system });
}

interface PassContext {
  config: ParsedSshConfig;
  /** The name Host lines match: the typed name in pass 1, the final hostname in pass 2. */
  name: string;
  alias: string;
  final: boolean;
  /** The final hostname (pass 2's Match host). */
  finalHost?: string;
}

function expandHostName(value: string, name: string): { value: string } | { error: string } {
  return percentExpand(value, { h: () => name }, false);
}

function runPass(st: State, p: PassContext): void {
  const { config } = p;
  const ctx = config.ctx;
  const matchHost = (): string => {
    if (p.final) return p.finalHost ?? p.name;
    const hn = str(st, "hostname");
    if (hn === undefined) return p.name;
    const e = expandHostName(hn, p.name);
    if ("error" in e) {
      const w = st.values.get("hostname")?.where;
      throw new ScoutError("config", `${w ? at(w) : "HostName"}: HostName ${hn}: ${e.error}`);
    }
    return e.value;
  };
  const portNow = () => String(num(st, "port") ?? 22);
  const userNow = () => str(st, "user") ?? ctx.localUser;

  const exec = (cond: Extract<Cond, { kind: "match" }>, arg: string): boolean => {
    const host = matchHost();
    const user = userNow();
    const port = portNow();
    const tokens: Tokens = {
      C: () => connectionHash(ctx.thisHost, host, port, user),
      L: () => ctx.thisHost.split(".")[0] ?? "",
      d: () => ctx.home,
      h: () => host,
      k: () => str(st, "hostkeyalias") ?? host,
      l: () => ctx.thisHost,
      n: () => p.alias,
      p: () => port,
      r: () => user,
      u: () => ctx.localUser,
      i: () => String(ctx.uid),
    };
    const e = percentExpand(arg, tokens, false);
    if ("error" in e) throw new ScoutError("config", `${at(cond.where)}: Match exec: ${e.error}`);
    if (!ctx.matchExec) {
      st.warnings.push(
        `${at(cond.where)}: Match exec ${JSON.stringify(e.value)} not run (SCOUT_MATCH_EXEC=off); treated as not matching`,
      );
      return false;
    }
    const r = config.execResults.get(e.value);
    if (r === undefined) throw new Need("exec", e.value);
    if (r.status === "error")
      throw new ScoutError("config", `${at(cond.where)}: match exec '${e.value}' error: ${r.message}`);
    return r.status === "match";
  };

  const checkUnknown = (item: Extract<Item, { kind: "unknown" }>): void => {
    const ignored = str(st, "ignoreunknown");
    if (ignored !== undefined && matchPatternList(item.keyword, ignored, true)) return;
    st.errors.push(`${at(item.where)}: Bad configuration option: ${item.keyword}`);
  };

  const runItems = (items: Item[], file: ParsedFile, active: boolean): void => {
    for (const item of items) {
      if (item.kind === "set") {
        if (active) apply(st, item, file.system);
      } else if (item.kind === "unknown") {
        checkUnknown(item);
      } else {
        for (const f of item.files) runFile(f, active);
      }
    }
  };

  // An included file starts with the includer's activity; when that is off it is read
  // "never match" (SSHCONF_NEVERMATCH): its lines are checked, none applies.
  const runFile = (file: ParsedFile, startActive: boolean): void => {
    const never = !startActive;
    runItems(file.pre, file, startActive);
    if (never && !config.fullWalk) return;
    const indices =
      config.fullWalk || never ? file.sections.map((_, i) => i) : candidateSections(file, p.name);
    for (const i of indices) {
      const s = file.sections[i] as ParsedFile["sections"][number];
      let active = false;
      if (!never) {
        if (s.cond.kind === "host") {
          const h = hostActive(s.cond, p.name);
          active = h.active;
          if (h.literal && !p.final && p.name === p.alias) st.literalHit = true;
        } else {
          const cond = s.cond;
          active = matchActive(cond, {
            name: p.name,
            host: matchHost,
            originalHost: p.alias,
            user: userNow,
            localUser: ctx.localUser,
            final: p.final,
            exec: (arg) => exec(cond, arg),
          });
        }
      }
      runItems(s.body, file, active);
    }
  };

  if (config.user) runFile(config.user, true);
  if (config.system) runFile(config.system, true);
}

export function connectionHash(thisHost: string, host: string, port: string, user: string): string {
  return createHash("sha1").update(`${thisHost}${host}${port}${user}`).digest("hex");
}

/** resolve_addr(): an address in getnameinfo()'s numeric form. */
function normalizeAddress(h: string): string {
  if (isIP(h) !== 6) return h;
  try {
    return new URL(`http://[${h}]/`).hostname.slice(1, -1);
  } catch {
    return h;
  }
}

function isAddrFast(h: string): boolean {
  return h.includes(":") || /^[0-9.]+$/.test(h);
}

function lookup(config: ParsedSshConfig, name: string): boolean {
  const r = config.lookups.get(name);
  if (r === undefined) throw new Need("lookup", name);
  return r;
}

/** ssh.c's hostname step between the passes: HostName, lowercasing, canonicalization. */
function canonicalHost(config: ParsedSshConfig, st: State, alias: string): string {
  let host = alias;
  const hn = str(st, "hostname");
  if (hn !== undefined) {
    const e = expandHostName(hn, alias);
    if ("error" in e) {
      const w = st.values.get("hostname")?.where;
      throw new ScoutError("config", `${w ? at(w) : "HostName"}: HostName ${hn}: ${e.error}`);
    }
    host = e.value;
  }
  const wasAddr = isIP(host) !== 0;
  if (!wasAddr) host = host.toLowerCase();
  const canon = canonicalizeMode(st);
  let resolved = false;
  const direct =
    (st.proxyCommand === undefined || st.proxyCommand.toLowerCase() === "none") && st.jump === undefined;
  if (wasAddr) return normalizeAddress(host);
  if (canon !== "no" && !isAddrFast(host) && (direct || canon === "always")) {
    const maxDots = num(st, "canonicalizemaxdots") ?? 1;
    const fallback = str(st, "canonicalizefallbacklocal") ?? "yes";
    const domains = list(st, "canonicaldomains") ?? [];
    let notFound = false;
    if (host.endsWith(".")) {
      if (lookup(config, host)) {
        host = host.slice(0, -1);
        resolved = true;
      } else notFound = true;
    } else if ((host.match(/\./g) ?? []).length <= maxDots) {
      notFound = true;
      for (const d of domains) {
        if (d === "none") break;
        if (lookup(config, `${host}.${d}.`)) {
          host = `${host}.${d}`;
          resolved = true;
          notFound = false;
          break;
        }
      }
    }
    if (notFound && (fallback === "no" || fallback === "false")) {
      throw new ScoutError(
        "config",
        `Could not resolve host "${host}" in CanonicalDomains (CanonicalizeFallbackLocal no)`,
      );
    }
  }
  // With CanonicalizePermittedCNAMEs, ssh resolves the name now; a direct host that does not
  // resolve is fatal even for `ssh -G`. (CNAME following itself is not done: see README.)
  const cnames = list(st, "canonicalizepermittedcnames");
  if (
    !resolved &&
    cnames &&
    !(cnames.length === 1 && cnames[0] === "none") &&
    (direct || canon === "always")
  ) {
    if (!lookup(config, host) && direct) throw new ScoutError("config", `Could not resolve hostname ${host}`);
  }
  return host;
}

function canonicalizeMode(st: State): "no" | "yes" | "always" {
  const v = str(st, "canonicalizehostname");
  if (v === "always") return "always";
  return v === "yes" || v === "true" ? "yes" : "no";
}

/** OpenSSH 9.2's default identities (fill_default_options(), OPENSSL_HAS_ECC, XMSS off). */
export const DEFAULT_IDENTITIES = [
  "id_rsa",
  "id_ecdsa",
  "id_ecdsa_sk",
  "id_ed25519",
  "id_ed25519_sk",
  "id_xmss",
  "id_dsa",
];

export interface ResolveOptions {
  preset: { user?: string; port?: number };
  /** Aliases on the current ProxyJump path (loop guard). */
  path: string[];
  /** A later hop of "a,b": dialed as `ssh -J a b`, so its own ProxyJump/ProxyCommand are ignored. */
  ignoreJump: boolean;
}

/** Keywords Scout does not act on that change the route or the identity, and why it matters. */
function routeWarnings(st: State): string[] {
  const out: string[] = [];
  const w = (op: string, text: (v: string) => string | undefined) => {
    const s = st.values.get(op);
    if (!s) return;
    const v = s.value.t === "str" ? s.value.v : s.value.t === "num" ? String(s.value.v) : "";
    const t = text(v.toLowerCase());
    if (t) out.push(`${at(s.where)}: ${t}`);
  };
  const yes = (v: string) => v === "yes" || v === "true";
  w("proxyusefdpass", (v) =>
    yes(v) ? "ProxyUseFdpass yes is ignored: Scout uses the ProxyCommand's stdin/stdout" : undefined,
  );
  w("pkcs11provider", (v) =>
    v !== "none" ? "PKCS11Provider is ignored: Scout cannot use PKCS#11 tokens" : undefined,
  );
  w("securitykeyprovider", () => "SecurityKeyProvider is ignored: Scout cannot use FIDO (sk-*) keys");
  w("hostbasedauthentication", (v) =>
    yes(v) ? "HostbasedAuthentication is ignored: Scout authenticates with keys only" : undefined,
  );
  w("pubkeyauthentication", (v) =>
    v === "no" || v === "false"
      ? "PubkeyAuthentication no is ignored: Scout authenticates with keys only"
      : undefined,
  );
  w("bindaddress", () => "BindAddress is ignored: Scout connects from the default source address");
  w("bindinterface", () => "BindInterface is ignored: Scout connects from the default interface");
  w("addressfamily", (v) =>
    v !== "any"
      ? `AddressFamily ${v} is ignored: Scout uses whatever address the name resolves to`
      : undefined,
  );
  w("knownhostscommand", () => "KnownHostsCommand is ignored: only known_hosts files are read");
  w("revokedhostkeys", (v) =>
    v !== "none" ? "RevokedHostKeys is ignored: only @revoked lines in known_hosts are honored" : undefined,
  );
  w("verifyhostkeydns", (v) =>
    v !== "no" && v !== "false" ? "VerifyHostKeyDNS is ignored: SSHFP records are not consulted" : undefined,
  );
  w("gssapikeyexchange", (v) =>
    yes(v) ? "GSSAPIKeyExchange is ignored: Scout cannot do GSSAPI" : undefined,
  );
  const gss = st.values.get("gssapiauthentication");
  // Debian's stock /etc/ssh/ssh_config turns it on for every host; only a user's own line is news.
  if (gss && !gss.system && gss.value.t === "str" && yes(gss.value.v)) {
    out.push(`${at(gss.where)}: GSSAPIAuthentication yes is ignored: Scout cannot do GSSAPI (Kerberos)`);
  }
  const plc = str(st, "permitlocalcommand");
  if (plc !== undefined && yes(plc) && str(st, "localcommand") !== undefined) {
    out.push(`${at(st.values.get("localcommand")!.where)}: LocalCommand is not run by Scout`);
  }
  return out;
}

export function resolveInternal(
  config: ParsedSshConfig,
  alias: string,
  o: ResolveOptions,
): HostConfig & { listed: boolean } {
  const { ctx } = config;
  if (config.staticError !== undefined) {
    throw new ScoutError("config", config.staticError, {
      hint: "ssh refuses this config too (ssh -G shows the same); fix that line",
    });
  }
  const st: State = {
    values: new Map(),
    identityFiles: [],
    certificateFiles: [],
    literalHit: false,
    errors: [],
    warnings: [],
  };
  const cmd = (op: string, v: Value) =>
    st.values.set(op, { value: v, where: { file: "(command line)", line: 0 }, system: false });
  if (o.preset.user !== undefined) cmd("user", { t: "str", v: o.preset.user });
  if (o.preset.port !== undefined) cmd("port", { t: "num", v: o.preset.port });
  if (o.ignoreJump) st.jump = "cmdline";

  runPass(st, { config, name: alias, alias, final: false });
  const fail = () => {
    if (st.errors.length > 0) {
      throw new ScoutError("config", st.errors[0] as string, {
        hint: "ssh refuses this config too (ssh -G shows the same); fix that line or add the keyword to IgnoreUnknown",
      });
    }
  };
  fail();
  let host = canonicalHost(config, st, alias);
  if (config.wantsFinal || canonicalizeMode(st) !== "no") {
    st.values.set("hostname", {
      value: { t: "str", v: host },
      where: { file: "(canonical)", line: 0 },
      system: false,
    });
    runPass(st, { config, name: host, alias, final: true, finalHost: host });
    fail();
  }
  host = host === "" ? alias : host;

  const user = str(st, "user") ?? ctx.localUser;
  const port = num(st, "port") ?? 22;
  const hostKeyAliasRaw = str(st, "hostkeyalias");
  const hostKeyAlias = hostKeyAliasRaw?.toLowerCase();
  const portStr = String(port);
  const tokens: Tokens = {
    C: () => connectionHash(ctx.thisHost, host, portStr, user),
    L: () => ctx.thisHost.split(".")[0] ?? "",
    i: () => String(ctx.uid),
    k: () => hostKeyAlias ?? alias,
    l: () => ctx.thisHost,
    n: () => alias,
    p: () => portStr,
    d: () => ctx.home,
    h: () => host,
    r: () => user,
    u: () => ctx.localUser,
  };
  const expandPath = (
    raw: string,
    what: string,
    where: Where | undefined,
    opts: { percent: boolean } = { percent: true },
  ): string => {
    const t = tildeExpand(raw, ctx.home);
    const place = where ? `${at(where)}: ` : "";
    if (t === undefined) throw new ScoutError("config", `${place}${what} ${raw}: no such user`);
    if (!opts.percent) return t;
    const e = percentExpand(t, tokens, true);
    if ("error" in e) throw new ScoutError("config", `${place}${what} ${raw}: ${e.error}`);
    return e.value;
  };

  // Identities: configured files in order (none = no file), else OpenSSH's defaults.
  let defaultIdentities = false;
  let idSource = st.identityFiles;
  if (idSource.length === 0) {
    defaultIdentities = true;
    idSource = DEFAULT_IDENTITIES.map((f) => ({
      path: `~/.ssh/${f}`,
      system: false,
      where: { file: "(default)", line: 0 },
    }));
  }
  const identityFiles: string[] = [];
  for (const f of idSource) {
    if (f.path.toLowerCase() === "none") continue;
    const p = expandPath(f.path, "IdentityFile", defaultIdentities ? undefined : f.where);
    if (!identityFiles.includes(p)) identityFiles.push(p);
  }
  const certificateFiles: string[] = [];
  for (const f of st.certificateFiles) {
    const p = expandPath(f.path, "CertificateFile", f.where);
    if (!certificateFiles.includes(p)) certificateFiles.push(p);
  }
  const ukh = st.values.get("userknownhostsfile");
  const userKnownHostsFiles = list(st, "userknownhostsfile");
  const gkh = list(st, "globalknownhostsfile");
  let identityAgent = str(st, "identityagent");
  if (identityAgent !== undefined) {
    const where = st.values.get("identityagent")?.where;
    if (identityAgent === "SSH_AUTH_SOCK") identityAgent = process.env.SSH_AUTH_SOCK ?? "none";
    else if (identityAgent !== "none") {
      const e = expandPath(identityAgent, "IdentityAgent", where);
      identityAgent = e.startsWith("$") && !e.startsWith("${") ? (process.env[e.slice(1)] ?? "none") : e;
    }
  }
  // Options Scout does not use but ssh expands before `-G` prints: a bad token there is fatal.
  for (const op of ["controlpath", "remotecommand"]) {
    const v = str(st, op);
    const s = st.values.get(op);
    if (v !== undefined && v.toLowerCase() !== "none" && s) {
      const e = percentExpand(
        op === "controlpath" ? (tildeExpand(v, ctx.home) ?? v) : v,
        tokens,
        op === "controlpath",
      );
      if ("error" in e)
        throw new ScoutError("config", `${at(s.where)}: ${s.value.t === "str" ? op : ""} ${v}: ${e.error}`);
    }
  }
  const shk = str(st, "stricthostkeychecking");
  const strict: HostConfig["strictHostKeyChecking"] =
    shk === undefined
      ? undefined
      : shk === "yes" || shk === "true"
        ? "yes"
        : shk === "no" || shk === "false" || shk === "off"
          ? "no"
          : (shk as "ask" | "accept-new");

  // ProxyJump / ProxyCommand: the first obtained wins (the other is then "none").
  const jump = st.jump === "cmdline" || st.jump === undefined || st.jump.none ? undefined : st.jump;
  const proxyCommand =
    st.proxyCommand !== undefined && st.proxyCommand.toLowerCase() !== "none" && !jump
      ? st.proxyCommand
      : undefined;
  const proxyJump: HostConfig[] = [];
  let proxyJumpSpec: string | undefined;
  if (jump) {
    proxyJumpSpec = formatJump(jump);
    const jumpUser = jump.last.user ?? user;
    const jumpPort = jump.last.port > 0 ? jump.last.port : 22;
    if (jump.last.host === host && jumpPort === port && jumpUser === user) {
      throw new ScoutError(
        "config",
        `${st.jumpWhere ? at(st.jumpWhere) + ": " : ""}jumphost loop via ${jump.last.host}`,
        {
          hint: "The host jumps through itself; exclude it from the block that sets ProxyJump",
        },
      );
    }
    const path = [...o.path, alias];
    jump.hops.forEach((spec: UserHostPort, i) => {
      if (path.includes(spec.host)) {
        throw new ScoutError("config", `ProxyJump loop: ${[...path, spec.host].join(" → ")}`, {
          hint: `Break the loop, e.g. exclude the jump host from the pattern that sets ProxyJump (Host * !${spec.host})`,
        });
      }
      const hop = resolveInternal(config, spec.host, {
        preset: {
          ...(spec.user !== undefined ? { user: spec.user } : {}),
          ...(spec.port > 0 ? { port: spec.port } : {}),
        },
        path,
        // Only the first hop's own ProxyJump is honored: ssh -J a,b runs "ssh -J a b" for b.
        ignoreJump: i > 0,
      });
      const { listed: _listed, proxyJump: own, ...flat } = hop;
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

  const warnings = [...st.warnings, ...routeWarnings(st)];
  const connectTimeout = num(st, "connecttimeout");
  const aliveInterval = num(st, "serveraliveinterval");
  const aliveCount = num(st, "serveralivecountmax");
  return {
    alias,
    hostname: host,
    port,
    user,
    identityFiles,
    ...(defaultIdentities ? { defaultIdentities: true } : {}),
    ...(certificateFiles.length > 0 ? { certificateFiles } : {}),
    identitiesOnly: (() => {
      const v = str(st, "identitiesonly");
      return v === "yes" || v === "true";
    })(),
    ...(identityAgent !== undefined ? { identityAgent } : {}),
    proxyJump,
    ...(proxyJumpSpec !== undefined ? { proxyJumpSpec } : {}),
    ...(proxyCommand !== undefined ? { proxyCommand } : {}),
    ...(hostKeyAlias !== undefined ? { hostKeyAlias } : {}),
    ...(userKnownHostsFiles !== undefined
      ? {
          userKnownHostsFiles:
            userKnownHostsFiles[0]?.toLowerCase() === "none"
              ? []
              : userKnownHostsFiles.map((f) => expandPath(f, "UserKnownHostsFile", ukh?.where)),
        }
      : {}),
    ...(gkh !== undefined
      ? {
          globalKnownHostsFiles:
            gkh[0]?.toLowerCase() === "none"
              ? []
              : gkh.map((f) => expandPath(f, "GlobalKnownHostsFile", undefined, { percent: false })),
        }
      : {}),
    ...(strict !== undefined ? { strictHostKeyChecking: strict } : {}),
    ...(connectTimeout !== undefined ? { connectTimeoutSec: connectTimeout } : {}),
    ...(aliveInterval !== undefined ? { serverAliveIntervalSec: aliveInterval } : {}),
    ...(aliveCount !== undefined ? { serverAliveCountMax: aliveCount } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
    listed: st.literalHit,
  };
}
