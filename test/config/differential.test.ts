/**
 * Differential test: Scout's ssh_config resolution against OpenSSH's own (`ssh -G`, the installed
 * OpenSSH 9.2 client), over configs from a seeded generator. For every generated config and every
 * name asked, either both refuse (ssh exits 255; Scout throws or lists a configError) or the
 * options Scout honours print the same.
 *
 * Normalization, and only this (ssh -G prints some values before ssh itself expands them):
 * - identityfile/certificatefile: ssh -G prints them as written; they are expanded here (`~` is the
 *   passwd home, `%` tokens from the values ssh -G printed) the way ssh.c expands them when it
 *   loads keys; `none` entries dropped; repeats dropped (ssh keeps a user-file and a system-file
 *   copy of one path and loads it twice; Scout offers it once).
 * - globalknownhostsfile: `~` expanded (ssh expands it after -G prints).
 * - identityagent: ssh -G prints `SSH_AUTH_SOCK` / `$VAR` literally; Scout resolves them to the
 *   environment's socket (or `none` when unset).
 * - Where the config is silent Scout prints its own defaults; here it is given OpenSSH's instead
 *   (stricthostkeychecking ask, connecttimeout none, serveraliveinterval 0, ~/.ssh/known_hosts{,2}).
 * ProxyJump values only name hop hosts that no Host block gives a ProxyJump, and Canonicalize*
 * appears only in literal Host blocks: ssh -G does not resolve hops, Scout does (a hop ssh would
 * refuse when it runs `ssh -W` makes Scout refuse the destination).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { hostname as osHostname, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { resolveLines, type ResolveDefaults } from "../../src/cli/resolve.js";
import { loadSshConfig, resolveHostAsync } from "../../src/config/ssh-config.js";

const HOME = userInfo().homedir;
const LOCAL_USER = userInfo().username;
const THIS_HOST = osHostname();
const AGENT = "/tmp/scout-diff-agent.sock";
process.env.SSH_AUTH_SOCK = AGENT;
process.env.SCOUT_DIFF_VAR = "/tmp/from-env";

const KEYS = [
  "hostname",
  "user",
  "port",
  "identityfile",
  "identitiesonly",
  "identityagent",
  "certificatefile",
  "proxyjump",
  "proxycommand",
  "hostkeyalias",
  "userknownhostsfile",
  "globalknownhostsfile",
  "stricthostkeychecking",
  "connecttimeout",
  "serveraliveinterval",
  "serveralivecountmax",
];

const SSH_DEFAULTS: ResolveDefaults = {
  stricthostkeychecking: "ask",
  connecttimeout: "none",
  serveraliveinterval: "0",
  userknownhostsfile: `${HOME}/.ssh/known_hosts ${HOME}/.ssh/known_hosts2`,
  identityagent: undefined,
};

/** mulberry32: a small seeded PRNG, so a failing config can be regenerated from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T,
    chance: (p: number) => next() < p,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
  };
}
type Rng = ReturnType<typeof rng>;

const NAMES = ["a1", "a2", "b1", "web", "db.x"];
const HOPS = [
  "jump.example",
  "u@10.0.0.1",
  "[::1]:2222",
  "ops@[fe80::1]:22",
  "ssh://x@jh.example:2200",
  "j@h2:23",
];

/** One directive line for a block; `literal`: the block only names concrete hosts. */
function directive(r: Rng, literal: boolean): string {
  const kinds: Array<() => string> = [
    () =>
      `HostName ${r.pick(["%h.example.com", "10.1.2.3", "Real.Example", "%h", "0:0:0:0:0:0:0:1", "h-%h"])}`,
    () => `User ${r.pick(["deploy", "ops", "'quoted user'", '"dq"', "root"])}`,
    () => `Port ${r.pick(["2222", "22", "ssh", "65535"])}`,
    () =>
      `IdentityFile ${r.pick(["~/.ssh/k_%h", "/keys/%r@%h:%p", "none", "~/.ssh/id_%u_%n", '"~/with space"', "~root/k", "%d/k_%k", "/k/%C", "/k/%l_%L_%i"])}`,
    () => `CertificateFile ${r.pick(["~/.ssh/c_%h-cert.pub", "/certs/%r"])}`,
    () => `IdentitiesOnly ${r.pick(["yes", "no", "true", "FALSE"])}`,
    () =>
      `IdentityAgent ${r.pick(["none", "SSH_AUTH_SOCK", "~/agent_%h", "/run/a_%u", "${SCOUT_DIFF_VAR}/s", "$SCOUT_DIFF_VAR"])}`,
    () => `ProxyCommand ${r.pick(["nc %h %p", "none", "ssh -W [%h]:%p gw # trailing", "'quoted' %r"])}`,
    () => `HostKeyAlias ${r.pick(["Alias.Example", "k%h"])}`,
    () => `UserKnownHostsFile ${r.pick(["~/kh_%h", "none", "/a/kh /b/kh_%p", "%d/.kh"])}`,
    () => `GlobalKnownHostsFile ${r.pick(["/etc/g1", "~/g %d", "none"])}`,
    () => `StrictHostKeyChecking ${r.pick(["yes", "no", "ask", "accept-new", "off", "True"])}`,
    () => `ConnectTimeout ${r.pick(["5", "1m", "none", "1h30m", "0"])}`,
    () => `ServerAliveInterval ${r.pick(["15", "0", "2m"])}`,
    () => `ServerAliveCountMax ${r.pick(["5", "0", "10"])}`,
    () => `SendEnv LANG`,
    () => `ForwardAgent ${r.pick(["yes", "no"])}`,
    () => `ControlPath ~/.ssh/cm-%C`,
  ];
  const literalOnly: Array<() => string> = [
    () => `ProxyJump ${r.pick(["jump.example", "none", HOPS.slice(0, r.int(1, 3)).join(","), r.pick(HOPS)])}`,
    () => `CanonicalizeHostname ${r.pick(["yes", "no", "always"])}`,
    () => `CanonicalDomains ${r.pick(["invalid", "example.invalid other.invalid"])}`,
    () => `CanonicalizeMaxDots ${r.pick(["0", "1", "3"])}`,
    () => `CanonicalizeFallbackLocal ${r.pick(["yes", "no"])}`,
  ];
  const f = literal && r.chance(0.25) ? r.pick(literalOnly) : r.pick(kinds);
  return syntaxVariant(r, f());
}

/** The forms people write: `Key=Value`, `Key = Value`, case, tabs, comments. */
function syntaxVariant(r: Rng, line: string): string {
  const sp = line.indexOf(" ");
  const key = line.slice(0, sp);
  const value = line.slice(sp + 1);
  const k = r.chance(0.15) ? key.toLowerCase() : r.chance(0.1) ? key.toUpperCase() : key;
  const sep = r.pick([" ", " ", "=", " = ", "\t", "  "]);
  const comment = r.chance(0.1) && !/ProxyCommand|ProxyJump/.test(key) ? " # note" : "";
  return `${r.pick(["  ", "\t", "", "    "])}${k}${sep}${value}${comment}`;
}

/** A line ssh refuses (or, with IgnoreUnknown, accepts). */
function badLine(r: Rng): string {
  return r.pick([
    "  Hostnme typo.example",
    "  Port",
    '  User "unclosed',
    "  Port 99999",
    "  Port 22 23",
    "  IdentitiesOnly maybe",
    "  ConnectTimeout 5x",
    "  StrictHostKeyChecking sometimes",
    "  ProxyJump user@[::1",
    "  ProxyJump a,,b",
    "  CanonicalDomains bad_dom!",
    "  UserKnownHostsFile ~/kh_%z",
    "  HostName %p.example",
    "  ServerAliveCountMax -1",
    "Match tagged x",
    "Match host",
    "Match exec",
    'Host ""',
    "  GlobalKnownHostsFile none /x",
    "  IdentityAgent ${SCOUT_DIFF_UNSET}",
    "  ControlPath /tmp/%z",
  ]);
}

function hostLine(r: Rng): { line: string; literal: boolean } {
  const opts: Array<[string, boolean]> = [
    [`Host ${r.pick(NAMES)}`, true],
    [`Host ${r.pick(NAMES)} ${r.pick(NAMES)}`, true],
    ["Host a*", false],
    ["Host ?1", false],
    ["Host *.x", false],
    [`Host * !${r.pick(NAMES)}`, false],
    [`Host !${r.pick(NAMES)} a? web`, false],
    [`Host=${r.pick(NAMES)}`, true],
    [`Host "${r.pick(NAMES)}"`, true],
    ["Host *", false],
  ];
  const [line, literal] = r.pick(opts);
  return { line, literal };
}

function matchLine(r: Rng): string {
  const neg = () => (r.chance(0.2) ? "!" : "");
  const crit = () =>
    r.pick([
      `${neg()}host ${r.pick(["a*", "*.example.com", "10.1.2.3", "web,db.x"])}`,
      `${neg()}originalhost ${r.pick(["a1", "b*", "web"])}`,
      `${neg()}user ${r.pick(["deploy", "root", "o*"])}`,
      `${neg()}localuser ${r.pick([LOCAL_USER, "nobody"])}`,
      `${neg()}exec ${r.pick(["true", "false", '"test %h = a1"', '"test %n = web"', '"[ %p = 22 ]"'])}`,
      `${neg()}final`,
      `${neg()}canonical`,
    ]);
  if (r.chance(0.1)) return "Match all";
  return `Match ${Array.from({ length: r.int(1, 2) }, crit).join(" ")}`;
}

interface Generated {
  seed: number;
  dir: string;
  home: string;
  config: string;
  system?: string;
  names: string[];
}

/** One config (and its Include files) under a fresh directory; `home` is $HOME for Includes. */
function generate(seed: number, withSystem: boolean): Generated {
  const r = rng(seed);
  const dir = mkdtempSync(join(tmpdir(), `scout-diff-${seed}-`));
  const home = join(dir, "home");
  mkdirSync(join(home, ".ssh", "conf.d"), { recursive: true });
  const lines: string[] = [];
  const block = (literal: boolean) => {
    for (let i = r.int(1, 4); i > 0; i--) lines.push(directive(r, literal));
  };
  if (r.chance(0.3)) lines.push("# generated", "");
  if (r.chance(0.3)) block(false); // directives before any Host line
  if (r.chance(0.2)) {
    lines.push("Host *");
    block(false);
  }
  const n = r.int(2, 6);
  for (let b = 0; b < n; b++) {
    if (r.chance(0.2)) {
      lines.push(matchLine(r));
      block(false);
    } else {
      const h = hostLine(r);
      lines.push(h.line);
      block(h.literal);
    }
    if (r.chance(0.12)) {
      // Include: relative (to ~/.ssh, with a glob) or absolute, sometimes inside a block.
      const inc = r.chance(0.5) ? "conf.d/*.conf" : join(dir, "inc", "*.inc");
      mkdirSync(join(dir, "inc"), { recursive: true });
      const body = `Host ${r.pick(NAMES)}\n${directive(r, true)}\nHost *\n${directive(r, false)}\n`;
      writeFileSync(join(home, ".ssh", "conf.d", `${r.int(1, 3)}.conf`), body);
      writeFileSync(
        join(dir, "inc", `${r.int(1, 3)}.inc`),
        `${directive(r, false)}\nMatch ${r.pick(["all", "host a*", "final"])}\n${directive(r, false)}\n`,
      );
      lines.push(`${r.chance(0.5) ? "  " : ""}Include ${inc}`);
    }
  }
  if (r.chance(0.3)) {
    lines.push("Host *");
    block(false);
  }
  if (r.chance(0.15)) lines.splice(r.int(0, lines.length), 0, badLine(r));
  if (r.chance(0.05)) lines.unshift("IgnoreUnknown Hostnme,Foo*");
  const eol = r.chance(0.2) ? "\r\n" : "\n";
  const config = lines.join(eol) + eol;
  const system = withSystem
    ? [
        "Host *",
        `  ${r.pick(["User sysuser", "Port 2200", "ProxyCommand nc %h %p", "IdentityFile /etc/ssh/k_%h", "StrictHostKeyChecking accept-new", "ConnectTimeout 7"])}`,
        `  ${r.pick(["IdentityFile ~/.ssh/k_%h", "GSSAPIAuthentication yes", "ServerAliveInterval 33", "User other"])}`,
        "",
      ].join("\n")
    : undefined;
  return {
    seed,
    dir,
    home,
    config,
    ...(system !== undefined ? { system } : {}),
    names: [...NAMES.slice(0, r.int(2, 5)), "zz"],
  };
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, maxBuffer: 1 << 22 }, (e, out, err) => {
      const code = e ? (typeof e.code === "number" ? e.code : 1) : 0;
      resolve({ code, out, err });
    });
  });
}

/** ssh -G for each name: with -F FILE, or (system + user) without -F in a private mount namespace. */
async function sshG(g: Generated): Promise<Array<{ code: number; out: string; err: string }>> {
  const env = { PATH: process.env.PATH, HOME: g.home, SSH_AUTH_SOCK: AGENT, SCOUT_DIFF_VAR: "/tmp/from-env" };
  if (g.system === undefined) {
    return Promise.all(g.names.map((n) => run("ssh", ["-G", "-F", join(g.dir, "config"), n], env)));
  }
  // ssh reads ~/.ssh/config from the passwd home and /etc/ssh/ssh_config: both are bind-mounted in
  // a mount namespace of its own (invisible to the rest of the machine).
  const script = [
    "set -e",
    `mount -t tmpfs none ${HOME}`,
    `mkdir -p ${HOME}/.ssh`,
    `cp ${join(g.dir, "config")} ${HOME}/.ssh/config`,
    `mount --bind ${join(g.dir, "system")} /etc/ssh/ssh_config`,
    "set +e",
    ...g.names.map((n) => `ssh -G ${n} 2>&1; echo "@@rc=$?"`),
  ].join("\n");
  const r = await run("unshare", ["-m", "sh", "-c", script], env);
  const parts = r.out.split(/^@@rc=(\d+)\n?/m);
  const out: Array<{ code: number; out: string; err: string }> = [];
  for (let i = 0; i + 1 < parts.length; i += 2)
    out.push({ code: Number(parts[i + 1]), out: parts[i] ?? "", err: "" });
  return out;
}

/** The test's own expansion of what ssh -G prints unexpanded (see the module comment). */
function normalizeSsh(out: string, name: string): string[] {
  const kv = out
    .split("\n")
    .map((l) => /^(\S+) (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && KEYS.includes(m[1] as string));
  const get = (k: string) => kv.find((m) => m[1] === k)?.[2] ?? "";
  const host = get("hostname");
  const port = get("port");
  const user = get("user");
  const tokens: Record<string, string> = {
    h: host,
    p: port,
    r: user,
    u: LOCAL_USER,
    d: HOME,
    n: name,
    k: get("hostkeyalias") || name,
    l: THIS_HOST,
    L: THIS_HOST.split(".")[0] ?? "",
    i: String(process.getuid?.() ?? 0),
    C: createHash("sha1").update(`${THIS_HOST}${host}${port}${user}`).digest("hex"),
    "%": "%",
  };
  const tilde = (p: string) =>
    p === "~"
      ? HOME
      : p.startsWith("~/")
        ? `${HOME}/${p.slice(2)}`
        : p.startsWith("~root/")
          ? `/root/${p.slice(6)}`
          : p;
  const expand = (p: string) => tilde(p).replace(/%(.)/g, (_, c: string) => tokens[c] ?? `%${c}`);
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const [, k, v] of kv as unknown as Array<[string, string, string]>) {
    if (k === "identityfile" || k === "certificatefile") {
      if (v.toLowerCase() === "none") continue;
      const line = `${k} ${expand(v)}`;
      if (!seen.has(line)) lines.push(line);
      seen.add(line);
    } else if (k === "globalknownhostsfile") {
      lines.push(`${k} ${v.split(" ").map(tilde).join(" ")}`);
    } else if (k === "identityagent") {
      const a =
        v === "SSH_AUTH_SOCK"
          ? AGENT
          : v.startsWith("$") && !v.startsWith("${")
            ? (process.env[v.slice(1)] ?? "none")
            : v;
      lines.push(`${k} ${a}`);
    } else {
      lines.push(`${k} ${v}`);
    }
  }
  return lines.sort();
}

async function scout(
  g: Generated,
): Promise<Array<{ ok: true; lines: string[] } | { ok: false; error: string }>> {
  const loaded = await loadSshConfig(join(g.system !== undefined ? join(g.dir, "dotssh") : g.dir, "config"), {
    includeHome: g.home,
    systemConfigPath: g.system !== undefined ? join(g.dir, "system") : null,
  });
  return Promise.all(
    g.names.map(async (n) => {
      try {
        const h = await resolveHostAsync(loaded.config, n);
        return { ok: true as const, lines: resolveLines(h, SSH_DEFAULTS).sort() };
      } catch (e) {
        return { ok: false as const, error: (e as Error).message };
      }
    }),
  );
}

async function pool<T, R>(items: T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

function writeGenerated(g: Generated): void {
  writeFileSync(join(g.dir, "config"), g.config);
  if (g.system !== undefined) {
    mkdirSync(join(g.dir, "dotssh"), { recursive: true });
    writeFileSync(join(g.dir, "dotssh", "config"), g.config);
    writeFileSync(join(g.dir, "system"), g.system);
  }
}

interface Outcome {
  seed: number;
  name: string;
  ssh: string;
  scout: string;
  same: boolean;
  refused: boolean;
}

async function compare(g: Generated): Promise<Outcome[]> {
  writeGenerated(g);
  const [s, o] = await Promise.all([sshG(g), scout(g)]);
  return g.names.map((name, i) => {
    const sr = s[i] ?? { code: -1, out: "", err: "missing" };
    const or = o[i] as Awaited<ReturnType<typeof scout>>[number];
    const sshRefused = sr.code !== 0;
    const sshText = sshRefused
      ? `refused (${sr.code}): ${(sr.err || sr.out).trim().split("\n").slice(-2).join(" | ")}`
      : normalizeSsh(sr.out, name).join("\n");
    const scoutText = or.ok ? or.lines.join("\n") : `refused: ${or.error}`;
    const same = sshRefused ? !or.ok : or.ok && sshText === scoutText;
    return { seed: g.seed, name, ssh: sshText, scout: scoutText, same, refused: sshRefused };
  });
}

const SEEDS = Array.from({ length: 100 }, (_, i) => 1000 + i);
const SYSTEM_SEEDS = Array.from({ length: 24 }, (_, i) => 5000 + i);

describe("ssh_config resolution equals ssh -G", () => {
  it(`over ${SEEDS.length} generated configs (-F FILE)`, async () => {
    const results = (
      await pool(
        SEEDS.map((s) => generate(s, false)),
        12,
        compare,
      )
    ).flat();
    const bad = results.filter((r) => !r.same);
    const refused = results.filter((r) => r.refused).length;
    console.log(
      `${results.length} resolutions over ${SEEDS.length} configs, ${refused} refused by ssh; ${bad.length} differ`,
    );
    for (const b of bad.slice(0, 5)) {
      console.log(
        `seed ${b.seed} ${b.name}:\n--- ssh -G\n${b.ssh}\n--- scout\n${b.scout}\n---\n${generate(b.seed, false).config}`,
      );
    }
    expect(refused).toBeGreaterThan(5);
    expect(bad.map((b) => `${b.seed}:${b.name}`)).toEqual([]);
  }, 120_000);

  it(`with a system file (/etc/ssh/ssh_config) after the user's, ${SYSTEM_SEEDS.length} configs`, async () => {
    const results = (
      await pool(
        SYSTEM_SEEDS.map((s) => generate(s, true)),
        8,
        compare,
      )
    ).flat();
    const bad = results.filter((r) => !r.same);
    for (const b of bad.slice(0, 3))
      console.log(`seed ${b.seed} ${b.name}:\n--- ssh\n${b.ssh}\n--- scout\n${b.scout}`);
    expect(results.length).toBeGreaterThan(SYSTEM_SEEDS.length);
    expect(bad.map((b) => `${b.seed}:${b.name}`)).toEqual([]);
  }, 120_000);
});
