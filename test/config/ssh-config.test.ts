import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runResolve } from "../../src/cli/resolve.js";
import { isScoutError } from "../../src/errors.js";
import { makeHostFilter } from "../../src/config/host-filter.js";
import { KnownHosts, fingerprint, keyscanLine, verifyHostKey } from "../../src/config/known-hosts.js";
import { HostRegistry } from "../../src/config/registry.js";
import { settingsWith } from "../../src/config/settings.js";
import { loadSshConfig, parseSshConfigText } from "../../src/config/ssh-config.js";
import type { HostConfig } from "../../src/config/host.js";

const ctx = { localUser: "me", home: "/home/me" };

function hostsOf(text: string) {
  return parseSshConfigText(text, ctx).hosts;
}

describe("ssh_config parsing", () => {
  it("resolves Host blocks with first-value-wins and Host * defaults; wildcards are not listed", () => {
    const hosts = hostsOf(`
Host web1 web2
  HostName %h.example.com
  User deploy
Host web1
  User ignored-because-first-wins
  Port 2222
Host *.internal db?
  User admin
Host *
  User fallback
  Port 22
  IdentityFile ~/.ssh/id_%r_%h
`);
    expect(hosts.map((h) => h.alias)).toEqual(["web1", "web2"]);
    const web1 = hosts[0]!;
    expect(web1).toMatchObject({ hostname: "web1.example.com", user: "deploy", port: 2222 });
    expect(web1.identityFiles).toEqual(["/home/me/.ssh/id_deploy_web1.example.com"]);
    expect(hosts[1]).toMatchObject({ hostname: "web2.example.com", port: 22 });
  });

  it("defaults HostName to the alias and User to the local user; Key=Value form; IdentitiesOnly", () => {
    const [h] = hostsOf("Host box\n  Port=2200\n  IdentitiesOnly yes\n  IdentityFile %d/k_%u\n");
    expect(h).toMatchObject({ alias: "box", hostname: "box", user: "me", port: 2200, identitiesOnly: true });
    expect(h!.identityFiles).toEqual(["/home/me/k_me"]);
  });

  it("honors negated patterns", () => {
    const hosts = hostsOf("Host a b\n  HostName x\nHost * !b\n  User special\n");
    expect(hosts.find((h) => h.alias === "a")!.user).toBe("special");
    expect(hosts.find((h) => h.alias === "b")!.user).toBe("me");
  });

  it("refuses the whole config for an invalid port, as ssh does", () => {
    const r = parseSshConfigText("Host a\n  Port nope\nHost b\n  User x\n", ctx);
    expect(r.hosts.map((h) => h.alias)).toEqual(["a", "b"]);
    for (const h of r.hosts) expect(h.configError).toMatch(/^\(text\):2: Bad port 'nope'\./);
    expect(r.warnings.join()).toMatch(/ssh config refused/);
  });

  it("resolves ProxyJump chains through the config, with loops guarded", () => {
    const hosts = hostsOf(`
Host bastion
  HostName 10.0.0.1
  User jump
  Port 2022
Host inner
  HostName 10.0.0.2
  ProxyJump bastion
Host deep
  HostName 10.0.0.3
  ProxyJump inner,ops@other:2200
Host direct
  ProxyJump none
Host loop1
  ProxyJump loop2
Host loop2
  ProxyJump loop1
`);
    const inner = hosts.find((h) => h.alias === "inner")!;
    expect(inner.proxyJump.map((j) => [j.alias, j.hostname, j.user, j.port])).toEqual([
      ["bastion", "10.0.0.1", "jump", 2022],
    ]);
    const deep = hosts.find((h) => h.alias === "deep")!;
    expect(deep.proxyJump.map((j) => j.alias)).toEqual(["bastion", "inner", "other"]);
    expect(deep.proxyJump[2]).toMatchObject({ user: "ops", port: 2200 });
    expect(hosts.find((h) => h.alias === "direct")!.proxyJump).toEqual([]);
    // A ProxyJump loop can never connect: the hosts stay listed (so that using one says why, not
    // "Unknown host"), carry the loop as configError, and a warning names the loop.
    const loop1 = hosts.find((h) => h.alias === "loop1")!;
    expect(loop1).toMatchObject({ alias: "loop1", hostname: "loop1", proxyJump: [] });
    expect(loop1.configError).toMatch(/ProxyJump loop: loop1 → loop2 → loop1/);
    expect(hosts.find((h) => h.alias === "loop2")!.configError).toMatch(/loop2 → loop1 → loop2/);
    expect(inner.configError).toBeUndefined();
    const { warnings } = parseSshConfigText("Host loop1\n  ProxyJump loop2\nHost loop2\n  ProxyJump loop1\n");
    expect(warnings.join("\n")).toMatch(/ProxyJump loop: loop1 → loop2 → loop1/);
  });

  it("keeps hosts with an unusable ProxyJump listed with a configError", () => {
    // A ProxyJump ssh cannot parse makes the whole file fatal (ssh -G exits 255).
    const bad = parseSshConfigText("Host bad\n  ProxyJump user@[::1\nHost ok\n", ctx);
    expect(bad.hosts.map((h) => [h.alias, h.configError])).toEqual([
      ["bad", expect.stringMatching(/^\(text\):2: Invalid ProxyJump "user@\[::1"/)],
      ["ok", expect.stringMatching(/Invalid ProxyJump/)],
    ]);
    const r = parseSshConfigText(
      "Host self\n  ProxyJump self\nHost * !j?\n  ProxyJump j1\nHost j1\n  ProxyJump j2\nHost j2\n",
      ctx,
    );
    const by = new Map(r.hosts.map((h) => [h.alias, h]));
    expect([...by.keys()]).toEqual(["self", "j1", "j2"]);
    expect(by.get("self")!.configError).toMatch(/jumphost loop via self/);
    // j1 jumps via j2 (Host * excludes j?), j2 is direct: both fine.
    expect(by.get("j1")!.configError).toBeUndefined();
    expect(by.get("j1")!.proxyJump.map((j) => j.alias)).toEqual(["j2"]);
    expect(r.warnings.filter((w) => /will fail until the config is fixed/.test(w))).toHaveLength(1);
  });

  it("follows Include (relative to ~/.ssh, globs, nested, loops) and reports the files read", async () => {
    const home = mkdtempSync(join(tmpdir(), "scout-home-"));
    mkdirSync(join(home, ".ssh", "conf.d"), { recursive: true });
    writeFileSync(
      join(home, ".ssh", "config"),
      "Include conf.d/*.conf\nHost main\n  HostName main.example\n",
    );
    writeFileSync(
      join(home, ".ssh", "conf.d", "a.conf"),
      "Include ~/.ssh/conf.d/nested.inc\nHost a\n  HostName a.example\nInclude ~/.ssh/conf.d/scoped.inc\n",
    );
    // As in OpenSSH, a file included inside a Host block is read with that block's activity: its
    // own Host lines can never match, so "s" is not a usable host.
    writeFileSync(join(home, ".ssh", "conf.d", "scoped.inc"), "Host s\n  HostName s.example\n");
    writeFileSync(join(home, ".ssh", "conf.d", "b.conf"), "Host b\n  HostName b.example\n");
    writeFileSync(join(home, ".ssh", "conf.d", "nested.inc"), "Host n\n  HostName n.example\n");
    const opts = { home, localUser: "me", systemConfigPath: null };
    const r = await loadSshConfig(join(home, ".ssh", "config"), opts);
    expect(r.error).toBeUndefined();
    expect(r.hosts.map((h) => h.alias).sort()).toEqual(["a", "b", "main", "n"]);
    expect(r.files.length).toBe(5);
    // An Include loop is "Too many recursive configuration includes" for ssh: fatal, so refused.
    writeFileSync(
      join(home, ".ssh", "conf.d", "nested.inc"),
      "Host n\n  HostName n.example\nInclude ~/.ssh/config\n",
    );
    const loop = await loadSshConfig(join(home, ".ssh", "config"), opts);
    expect(loop.error).toMatch(/Too many recursive configuration includes/);
    expect(loop.hosts.every((h) => /Too many recursive/.test(h.configError ?? ""))).toBe(true);
  });

  it("a missing config gives zero hosts and a warning", async () => {
    const r = await loadSshConfig("/nonexistent/ssh_config");
    expect(r.hosts).toEqual([]);
    expect(r.warnings[0]).toMatch(/ssh config \/nonexistent\/ssh_config does not exist/);
  });

  it("parses 1000 hosts quickly (printed, not asserted)", () => {
    const config = (n: number) =>
      "Host *.example.com\n  User deploy\n" +
      Array.from({ length: n }, (_, i) => `Host server-${i}\n  HostName server-${i}.example.com\n`).join("") +
      "Host *\n  IdentityFile ~/.ssh/id_%h\n";
    // Resolving each alias visits only its own Host blocks plus the wildcard ones (O(n), not O(n²)).
    const times: string[] = [];
    for (const n of [100, 1000]) {
      const text = config(n);
      let best = Infinity;
      for (let round = 0; round < 3; round++) {
        const t = performance.now();
        const hosts = hostsOf(text);
        best = Math.min(best, performance.now() - t);
        expect(hosts).toHaveLength(n);
        // Wildcard blocks still apply in order: HostName from the own block, then *.example.com
        // matches nothing (aliases are server-N), Host * adds the key with %h = the HostName.
        expect(hosts[n - 1]).toMatchObject({ hostname: `server-${n - 1}.example.com`, user: "me" });
        expect(hosts[n - 1]!.identityFiles).toEqual([`/home/me/.ssh/id_server-${n - 1}.example.com`]);
      }
      times.push(`${n} hosts in ${best.toFixed(1)} ms`);
    }
    console.log(`parsed ${times.join(", ")} (best of 3; Python reference: 100 hosts in 1.67 ms)`);
  });

  it("applies literal and wildcard blocks in file order whatever the index", () => {
    const hosts = hostsOf(`
Host *
  Port 2000
Host a b
  User first
Host c*
  User c-wild
  Port 3000
Host b
  User second
  HostName b.example
Host a !a
  HostName never
Match host c1.example
  User matched
Host c1
  HostName c1.example
`);
    const by = new Map(hosts.map((h) => [h.alias, h]));
    expect([...by.keys()]).toEqual(["a", "b", "c1"]);
    expect(by.get("a")).toMatchObject({ hostname: "a", user: "first", port: 2000 });
    expect(by.get("b")).toMatchObject({ hostname: "b.example", user: "first", port: 2000 });
    // Match sees HostName only when it was set before it (c1's HostName comes later): not matched.
    expect(by.get("c1")).toMatchObject({ hostname: "c1.example", user: "c-wild", port: 2000 });
  });
});

describe("host filter", () => {
  it("allow globs, deny wins, empty allow allows all", () => {
    const f = makeHostFilter(["web*", "db-1"], ["web-test*"]);
    expect(["web1", "web-test2", "db-1", "db-2"].filter(f)).toEqual(["web1", "db-1"]);
    expect(["x", "y"].filter(makeHostFilter([], ["y"]))).toEqual(["x"]);
  });
});

function genKey(dir: string, name: string, passphrase = ""): { priv: string; pubLine: string; blob: Buffer } {
  const priv = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", priv, "-C", ""]);
  const pubLine = readFileSync(priv + ".pub", "utf8").trim();
  return { priv, pubLine, blob: Buffer.from(pubLine.split(" ")[1]!, "base64") };
}

function host(over: Partial<HostConfig> = {}): HostConfig {
  return {
    alias: "h",
    hostname: "example.org",
    port: 22,
    user: "u",
    identityFiles: [],
    identitiesOnly: true,
    proxyJump: [],
    ...over,
  };
}

describe("known_hosts", () => {
  const dir = mkdtempSync(join(tmpdir(), "scout-kh-"));
  const k1 = genKey(dir, "k1");
  const k2 = genKey(dir, "k2");

  it("matches plain, [host]:port, wildcard and comma entries; detects changed and revoked keys", async () => {
    const file = join(dir, "known_hosts");
    writeFileSync(
      file,
      [
        `example.org,alias.example ${k1.pubLine}`,
        `[example.org]:2222 ${k2.pubLine}`,
        `*.wild.example ${k1.pubLine}`,
        `@revoked bad.example ${k2.pubLine}`,
        `bad.example ${k1.pubLine}`,
        "# comment",
        "@cert-authority *.example ssh-ed25519 AAAA",
      ].join("\n"),
    );
    const kh = await KnownHosts.load(file);
    expect(kh.check(["example.org"], 22, k1.blob)).toBe("known");
    expect(kh.check(["alias.example"], 22, k1.blob)).toBe("known");
    expect(kh.check(["example.org"], 2222, k2.blob)).toBe("known");
    expect(kh.check(["example.org"], 2222, k1.blob)).toBe("changed");
    expect(kh.check(["x.wild.example"], 22, k1.blob)).toBe("known");
    expect(kh.check(["other.example"], 22, k1.blob)).toBe("unknown");
    expect(kh.check(["bad.example"], 22, k2.blob)).toBe("revoked");
  });

  it("reads entries hashed by the real ssh-keygen -H", async () => {
    const file = join(dir, "hashed");
    writeFileSync(file, `[127.0.0.1]:2200 ${k1.pubLine}\nhost.example ${k2.pubLine}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    expect(readFileSync(file, "utf8")).toMatch(/^\|1\|/);
    const kh = await KnownHosts.load(file);
    expect(kh.check(["127.0.0.1"], 2200, k1.blob)).toBe("known");
    expect(kh.check(["host.example"], 22, k2.blob)).toBe("known");
    expect(kh.check(["host.example"], 22, k1.blob)).toBe("changed");
  });

  it("fingerprints like ssh-keygen -lf", () => {
    const out = execFileSync("ssh-keygen", ["-lf", k1.priv + ".pub"], { encoding: "utf8" });
    expect(out).toContain(fingerprint(k1.blob));
    expect(keyscanLine("example.org", 2222, k1.blob)).toBe(`[example.org]:2222 ${k1.pubLine}`);
  });

  it("strict mode refuses unknown keys with the keyscan line; accept-new appends; changed is always refused", async () => {
    const file = join(dir, "kh-modes");
    writeFileSync(file, "");
    const known = await KnownHosts.load(file);
    const base = { known, knownHostsPath: file, host: host({ port: 2200 }) };
    const strict = await verifyHostKey({ ...base, mode: "true", key: k1.blob }).catch((e: unknown) => e);
    expect(isScoutError(strict, "host-key-unknown")).toBe(true);
    expect((strict as { userText: string }).userText).toContain("ssh-keyscan -p 2200 example.org");
    await verifyHostKey({ ...base, mode: "accept-new", key: k1.blob });
    expect(readFileSync(file, "utf8")).toContain(`[example.org]:2200 ${k1.pubLine}`);
    await verifyHostKey({ ...base, mode: "true", key: k1.blob });
    const changed = await verifyHostKey({ ...base, mode: "accept-new", key: k2.blob }).catch(
      (e: unknown) => e,
    );
    expect(isScoutError(changed, "host-key-changed")).toBe(true);
    const warnings: string[] = [];
    await verifyHostKey({ ...base, mode: "false", key: k2.blob, warn: (m) => warnings.push(m) });
    expect(warnings[0]).toMatch(/changed/);
  });
});

describe("host registry", () => {
  it("applies allow/deny, explains unknown hosts, and follows file changes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scout-reg-"));
    const cfg = join(dir, "config");
    writeFileSync(cfg, "Host web1 web2 db1\n  User u\n");
    const reg = await HostRegistry.open(
      settingsWith({ sshConfigPath: cfg, allowHosts: ["web*", "db*"], denyHosts: ["web2"] }),
      { watch: true },
    );
    try {
      expect(reg.list().map((h) => h.alias)).toEqual(["db1", "web1"]);
      expect(() => reg.require("nope")).toThrow("Unknown host 'nope'. Available: db1, web1");
      const changed = new Promise<string[]>((resolve) =>
        reg.once("change", (hosts) => resolve(hosts.map((h) => h.alias))),
      );
      writeFileSync(cfg, "Host web1 web3\n  User u\n");
      await expect(changed).resolves.toEqual(["web1", "web3"]);
    } finally {
      reg.close();
    }
  });
});

describe("refused like ssh refuses", () => {
  it("an included file others can write: Bad owner or permissions, for Scout and for ssh -G", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scout-perm-"));
    const cfg = join(dir, "config");
    writeFileSync(cfg, `Include ${dir}/inc\nHost a\n  User u\n`);
    writeFileSync(join(dir, "inc"), "Host b\n");
    chmodSync(join(dir, "inc"), 0o666);
    const r = await loadSshConfig(cfg, { systemConfigPath: null });
    expect(r.error).toMatch(/Bad owner or permissions on .*inc/);
    expect(r.hosts.find((h) => h.alias === "a")!.configError).toMatch(/Bad owner or permissions/);
    expect(spawnSync("ssh", ["-G", "-F", cfg, "a"]).status).toBe(255);
    chmodSync(join(dir, "inc"), 0o644);
    expect((await loadSshConfig(cfg, { systemConfigPath: null })).error).toBeUndefined();
    expect(spawnSync("ssh", ["-G", "-F", cfg, "a"]).status).toBe(0);
  });

  it("a hot reload that does not parse keeps the last good config and says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scout-reload-"));
    const cfg = join(dir, "config");
    writeFileSync(cfg, "Host web1\n  User u\n");
    const logs: string[] = [];
    const reg = await HostRegistry.open(
      settingsWith({ sshConfigPath: cfg, systemSshConfigPath: undefined, allowHosts: [], denyHosts: [] }),
      { log: (_l, m) => logs.push(m) },
    );
    try {
      writeFileSync(cfg, 'Host web1\n  User "half-edited\nHost web2\n');
      await reg.reload();
      expect(reg.list().map((h) => [h.alias, h.user, h.configError])).toEqual([["web1", "u", undefined]]);
      expect(reg.configProblem()).toMatch(
        /ssh config change not applied .*config:2: invalid quotes.*last good config \(1 hosts\)/,
      );
      expect(logs.join("\n")).toMatch(/ssh config change not applied/);
      writeFileSync(cfg, "Host web1\n  User v\nHost web2\n");
      await reg.reload();
      expect(reg.configProblem()).toBeUndefined();
      expect(reg.list().map((h) => [h.alias, h.user])).toEqual([
        ["web1", "v"],
        ["web2", reg.list()[1]!.user],
      ]);
    } finally {
      reg.close();
    }
  });

  it("Match exec runs with % tokens, and SCOUT_MATCH_EXEC=off makes it not match with a warning", () => {
    const text = 'Match exec "test %h = box.example"\n  User matched\nHost box\n  HostName box.example\n';
    // HostName comes after the Match line: in the first pass Match sees the alias, so no match…
    expect(parseSshConfigText(text, ctx).hosts[0]!.user).toBe("me");
    const t2 = 'Host box\n  HostName box.example\nMatch exec "test %h = box.example"\n  User matched\n';
    expect(parseSshConfigText(t2, ctx).hosts[0]!.user).toBe("matched");
    const off = parseSshConfigText(t2, { ...ctx, matchExec: false });
    expect(off.hosts[0]!.user).toBe("me");
    expect(off.hosts[0]!.warnings?.join()).toMatch(/Match exec "test box.example = box.example" not run/);
  });

  it("resolve prints ssh -G lines with Scout's defaults where the config is silent, and fails where ssh would", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scout-resolve-"));
    const cfg = join(dir, "config");
    writeFileSync(
      cfg,
      "Host a\n  HostName a.example\n  ProxyJump j@[::1]:2222\n  PKCS11Provider /lib/p11.so\n",
    );
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } };
    const settings = settingsWith({
      sshConfigPath: cfg,
      systemSshConfigPath: undefined,
      strictHostKeyChecking: "accept-new",
    });
    expect(await runResolve(settings, ["a", "ops@other"], io as never)).toBe(0);
    const text = out.join("");
    expect(text).toMatch(/^hostname a\.example\nuser \S+\nport 22\n/);
    expect(text).toContain("proxyjump j@[::1]:2222\n");
    expect(text).toContain("stricthostkeychecking accept-new\n");
    expect(text).toMatch(/# warning: .*config:4: PKCS11Provider is ignored/);
    expect(text).toMatch(/\n\nhostname other\nuser ops\n/);
    writeFileSync(cfg, "Host a\n  Hostnme typo\n");
    out.length = 0;
    expect(await runResolve(settings, ["a"], io as never)).toBe(1);
    expect(err.join("")).toMatch(/a: .*config:2: Bad configuration option: hostnme/);
  });
});
