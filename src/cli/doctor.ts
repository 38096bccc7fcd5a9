/**
 * `scout-mcp doctor [host…]`: why doesn't a host connect? For every host of the ssh config (or the
 * ones named), concurrently: DNS, TCP (and the SSH banner), host key against known_hosts, which
 * identity authenticates, SFTP, and the SFTP round-trip time. It uses Scout's own engine
 * (SshConnection with the same known_hosts and identities as `serve`), so what it reports is what
 * the server will meet. Nothing is written: an unknown key is never added to known_hosts here.
 */
import { lookup } from "node:dns/promises";
import net from "node:net";
import { homedir } from "node:os";
import type { AnyAuthMethod } from "ssh2";
import type { HostConfig } from "../config/host.js";
import { hostAddress } from "../config/host.js";
import { KnownHostsFiles, fingerprint, hostKeyMode, verifyHostKey } from "../config/known-hosts.js";
import { HostRegistry } from "../config/registry.js";
import type { Settings } from "../config/settings.js";
import { ScoutError, errorMessage, isScoutError } from "../errors.js";
import { SshConnection, type ConnectionDeps } from "../ssh/connection.js";
import { createConnectionDeps } from "../ssh/trust.js";
import { describeRoute, proxyCommandProbe, routeOf } from "../ssh/dial.js";
import { renderTable, spinner, styleFor, type Out } from "./term.js";

export const CHECKS = ["dns", "tcp", "hostKey", "auth", "sftp", "rtt"] as const;
export type CheckName = (typeof CHECKS)[number];
const TITLES: Record<CheckName, string> = {
  dns: "DNS",
  tcp: "TCP",
  hostKey: "HOST KEY",
  auth: "AUTH",
  sftp: "SFTP",
  rtt: "RTT",
};

export interface Check {
  /** undefined: not run, because an earlier check failed. */
  ok: boolean | undefined;
  /** Short text for the table cell. */
  cell: string;
  /** For a failure: what happened and what to do, on one line. */
  advice?: string;
  /** Names the failure in the advice line when the column's title would mislead. */
  label?: string;
}

export interface HostDiagnosis {
  alias: string;
  address: string;
  checks: Record<CheckName, Check>;
  ok: boolean;
}

const SKIPPED: Check = { ok: undefined, cell: "–" };
const RTT_SAMPLES = 5;
/** Hosts checked at once: enough for any fleet to finish quickly, few enough for the fd limit. */
const PARALLEL = 32;

function tildify(p: string): string {
  const home = homedir();
  return home && home !== "/" && p.startsWith(home + "/") ? "~" + p.slice(home.length) : p;
}

function ms(n: number): string {
  return n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

function withTimeout<T>(p: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Connects to address:port and reads the server's identification line ("SSH-2.0-…"). */
function probeTcp(
  address: string,
  port: number,
  timeoutMs: number,
): Promise<{ connectMs: number; banner: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let connectMs = 0;
    let data = "";
    const socket = net.connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      const err: NodeJS.ErrnoException = new Error(connectMs ? "no SSH banner" : "timed out");
      err.code = connectMs ? "ENOBANNER" : "ETIMEDOUT";
      reject(err);
    }, timeoutMs);
    timer.unref();
    socket.once("connect", () => (connectMs = performance.now() - started));
    socket.on("data", (d: Buffer) => {
      data += d.toString("latin1");
      const nl = data.indexOf("\n");
      // Servers may send other lines before the identification line (RFC 4253 §4.2).
      if (nl >= 0 && (data.startsWith("SSH-") || data.length > 1024 || /\nSSH-/.test(data))) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ connectMs, banner: (/^SSH-[^\r\n]*/m.exec(data)?.[0] ?? data.slice(0, 60)).trim() });
      }
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      const err: NodeJS.ErrnoException = new Error("closed before sending an SSH banner");
      err.code = "ENOBANNER";
      reject(err);
    });
  });
}

function describeMethod(m: AnyAuthMethod): string {
  if (m.type === "agent") return "ssh-agent";
  const { keyPath, certPath } = m as AnyAuthMethod & { keyPath?: string; certPath?: string };
  if (certPath) return `certificate ${tildify(certPath)}`;
  return keyPath ? `key ${tildify(keyPath)}` : m.type;
}

export interface DoctorContext {
  settings: Settings;
  knownFiles: KnownHostsFiles;
  authMethods: ConnectionDeps["authMethods"];
}

export async function diagnoseHost(host: HostConfig, ctx: DoctorContext): Promise<HostDiagnosis> {
  const { settings } = ctx;
  const checks: Record<CheckName, Check> = {
    dns: SKIPPED,
    tcp: SKIPPED,
    hostKey: SKIPPED,
    auth: SKIPPED,
    sftp: SKIPPED,
    rtt: SKIPPED,
  };
  const done = (): HostDiagnosis => ({
    alias: host.alias,
    address: hostAddress(host),
    checks,
    ok: CHECKS.every((c) => checks[c].ok !== false),
  });
  const timeoutMs = settings.connectTimeoutMs;
  // Through a ProxyJump chain only the first hop is dialed from here.
  const first = routeOf(host)[0] as HostConfig;
  const via = first === host ? "" : ` (jump host ${first.alias})`;
  const where = `${first.hostname}:${first.port}${via}`;

  // An entry that can never connect (the config parser says why) fails before any network check.
  if (host.configError !== undefined) {
    checks.dns = { ok: false, cell: "✗ config", label: "SSH CONFIG", advice: host.configError };
    return done();
  }

  // A route that starts with a ProxyCommand: no DNS or TCP of our own, the command is the way in.
  if (first.proxyCommand !== undefined) {
    checks.dns = { ok: true, cell: "✓ ProxyCommand" };
    const t0 = performance.now();
    if (await proxyCommandProbe(first, timeoutMs)) {
      checks.tcp = { ok: true, cell: `✓ ${ms(performance.now() - t0)}` };
    } else {
      checks.tcp = {
        ok: false,
        cell: "✗ ProxyCommand",
        advice: `No SSH server greeted through the ProxyCommand of ${first.alias} (${first.proxyCommand}) within ${timeoutMs / 1000} s: run it by hand to see why`,
      };
      return done();
    }
    return sshChecks();
  }

  // DNS
  let address: string;
  if (net.isIP(first.hostname)) {
    address = first.hostname;
    checks.dns = { ok: true, cell: "✓ IP" };
  } else {
    try {
      const found = await withTimeout(lookup(first.hostname, { all: true }), timeoutMs, () =>
        Object.assign(new Error("lookup timed out"), { code: "ETIMEOUT" }),
      );
      address = found[0]!.address;
      checks.dns = { ok: true, cell: `✓ ${address}` };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      checks.dns = {
        ok: false,
        cell: "✗ not found",
        advice:
          code === "ENOTFOUND"
            ? `Cannot resolve '${first.hostname}'${via}: check HostName for ${first.alias} in ${settings.sshConfigPath}, or add it to DNS or /etc/hosts`
            : `Looking up '${first.hostname}'${via} failed (${code || errorMessage(e)}): check your resolver (/etc/resolv.conf) and network`,
      };
      return done();
    }
  }

  // TCP and the SSH banner
  try {
    const t = await probeTcp(address, first.port, timeoutMs);
    checks.tcp = { ok: true, cell: `✓ ${ms(t.connectMs)}` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    const advice: Record<string, [string, string]> = {
      ECONNREFUSED: [
        "✗ refused",
        `Connection refused by ${address}:${first.port}${via}: is sshd running on that port? Check Port for ${first.alias} in ${settings.sshConfigPath}`,
      ],
      ETIMEDOUT: [
        "✗ timeout",
        `No answer from ${address}:${first.port}${via} within ${timeoutMs / 1000} s: the host is down or a firewall drops the packets (SCOUT_CONNECT_TIMEOUT raises the limit)`,
      ],
      EHOSTUNREACH: [
        "✗ no route",
        `No route to ${address}${via}: check the network path (VPN, routes) to the host`,
      ],
      ENETUNREACH: [
        "✗ no route",
        `Network unreachable for ${address}${via}: check the network path (VPN, routes) to the host`,
      ],
      ENOBANNER: [
        "✗ not SSH",
        `${address}:${first.port}${via} accepts TCP but did not greet as an SSH server: check Port for ${first.alias} in ${settings.sshConfigPath}`,
      ],
    };
    const [cell, text] = advice[code] ?? ["✗ failed", `Cannot connect to ${where}: ${errorMessage(e)}`];
    checks.tcp = { ok: false, cell, advice: text };
    return done();
  }

  return sshChecks();

  // SSH: host key and authentication, through the engine's own connection
  async function sshChecks(): Promise<HostDiagnosis> {
    const keyChecks = new Map<string, Check>();
    let authWith: string | undefined;
    const deps: ConnectionDeps = {
      connectTimeoutMs: timeoutMs,
      keepaliveIntervalMs: 0,
      authMethods: ctx.authMethods,
      onAuthenticated: (hop, method) => {
        if (hop.alias === host.alias) authWith = describeMethod(method);
      },
      verifyHostKey: async (hop, key) => {
        const jump = hop.alias === host.alias ? "" : ` (jump host ${hop.alias})`;
        const fp = fingerprint(key);
        try {
          // mode "true": classify without ever appending to known_hosts.
          const { known, others } = await ctx.knownFiles.forHost(hop);
          await verifyHostKey({
            known,
            others,
            knownHostsPath: known.path,
            mode: "true",
            host: hop,
            key,
          });
          keyChecks.set(hop.alias, { ok: true, cell: "✓ known" });
        } catch (e) {
          const mode = hostKeyMode(hop, settings.strictHostKeyChecking);
          if (isScoutError(e, "host-key-unknown") && mode !== "true") {
            keyChecks.set(hop.alias, { ok: true, cell: "✓ new (accept-new)" });
            return; // the server would trust it on first use; so does this check
          }
          if (mode === "false") {
            keyChecks.set(hop.alias, { ok: true, cell: "✓ changed (checking off)" });
            return;
          }
          const unknown = isScoutError(e, "host-key-unknown");
          const text = e instanceof ScoutError ? e.userText : errorMessage(e);
          keyChecks.set(hop.alias, {
            ok: false,
            cell: unknown ? "✗ unknown" : "✗ CHANGED",
            advice: `${text}${jump}${unknown ? "" : ` [${fp}]`}`,
          });
          throw e;
        }
      },
    };
    const conn = new SshConnection(host);
    try {
      await conn.connect(deps);
    } catch (e) {
      const failedKey = [...keyChecks.values()].find((c) => c.ok === false);
      const targetKey = keyChecks.get(host.alias);
      const text = oneLine(e instanceof ScoutError ? e.userText : errorMessage(e));
      if (failedKey) {
        checks.hostKey = failedKey;
      } else if (!targetKey) {
        // Failed before the target's key was seen: the handshake (or a jump hop) is the problem.
        checks.hostKey = { ok: false, cell: "✗ handshake", advice: text };
      } else {
        checks.hostKey = targetKey;
        const timedOut = isScoutError(e, "connect-timeout");
        checks.auth = {
          ok: false,
          cell: timedOut ? "✗ timeout" : isScoutError(e, "key-unusable") ? "✗ no key" : "✗ refused",
          advice: text,
        };
      }
      return done();
    }
    checks.hostKey = keyChecks.get(host.alias) ?? { ok: true, cell: "✓" };
    checks.auth = { ok: true, cell: `✓ ${authWith ?? "ok"}` };

    // SFTP, and its round-trip time
    try {
      const { sftp } = await withTimeout(
        conn.sftp(),
        timeoutMs,
        () => new ScoutError("timeout", `SFTP on ${host.alias} did not open within ${timeoutMs / 1000} s`),
      );
      checks.sftp = { ok: true, cell: "✓" };
      const samples: number[] = [];
      for (let i = 0; i < RTT_SAMPLES; i++) {
        const t0 = performance.now();
        await withTimeout(
          new Promise<void>((resolve, reject) =>
            sftp.realpath(".", (err) => (err ? reject(err) : resolve())),
          ),
          timeoutMs,
          () => new ScoutError("timeout", `SFTP on ${host.alias} stopped answering`),
        );
        samples.push(performance.now() - t0);
      }
      samples.sort((a, b) => a - b);
      checks.rtt = { ok: true, cell: ms(samples[Math.floor(samples.length / 2)]!) };
    } catch (e) {
      const text = oneLine(e instanceof ScoutError ? e.userText : errorMessage(e));
      if (checks.sftp.ok) checks.rtt = { ok: false, cell: "✗", advice: text };
      else
        checks.sftp = {
          ok: false,
          cell: "✗",
          advice: `${text}${/sftp subsystem/i.test(text) ? "" : ". Check that sshd enables the sftp subsystem (Subsystem sftp … in sshd_config)"}`,
        };
    } finally {
      conn.close();
    }
    return done();
  }
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface DoctorIo {
  out: Out;
  /** Where the progress indicator goes (only when it is a TTY). */
  progress: Out;
  env?: NodeJS.ProcessEnv;
}

/** Runs the checks and prints the report; returns the exit code (0 when every host passed). */
export async function runDoctor(settings: Settings, aliases: string[], io: DoctorIo): Promise<number> {
  const style = styleFor(io.out, io.env);
  // Problems in the ssh config itself (unparsable lines, missing Includes) are part of the diagnosis.
  const configWarnings: string[] = [];
  const registry = await HostRegistry.open(settings, {
    watch: false,
    log: (level, msg) => {
      if (level === "warn") configWarnings.push(msg);
    },
  });
  registry.close();
  const all = registry.list();
  const unknown = aliases.filter((a) => !registry.get(a));
  const hosts = aliases.length > 0 ? aliases.flatMap((a) => registry.get(a) ?? []) : all;
  const out = (s: string) => io.out.write(s);

  if (all.length === 0 && aliases.length === 0) {
    out(
      `${style.red("✗")} No hosts found in ${settings.sshConfigPath}: add Host entries there, or point SCOUT_SSH_CONFIG at your ssh config\n`,
    );
    return 1;
  }
  out(
    `Checking ${hosts.length} host${hosts.length === 1 ? "" : "s"} from ${settings.sshConfigPath} ` +
      `(known_hosts ${settings.knownHostsPath}, SCOUT_STRICT_HOST_KEY_CHECKING=${settings.strictHostKeyChecking})\n`,
  );
  for (const w of configWarnings) out(`${style.yellow("!")} ssh config: ${oneLine(w)}\n`);
  // The route of each host that is not dialed directly, and what the config layer warns about it.
  for (const h of hosts) {
    const route = describeRoute(h);
    if (route !== "direct") out(`  ${h.alias}: route ${oneLine(route)}\n`);
    for (const w of h.warnings ?? []) {
      if (!configWarnings.includes(w)) out(`${style.yellow("!")} ${h.alias}: ${oneLine(w)}\n`);
    }
  }
  for (const a of unknown) {
    out(
      `${style.red("✗")} ${a}: not a host of ${settings.sshConfigPath}` +
        (all.length > 0
          ? ` (available: ${all.map((h) => h.alias).join(", ")})\n`
          : "; it lists no hosts: add Host entries or point SCOUT_SSH_CONFIG at your ssh config\n"),
    );
  }
  if (hosts.length === 0) return 1;

  const knownFiles = new KnownHostsFiles(settings.knownHostsPath);
  const { authMethods } = await createConnectionDeps(settings, () => {});
  const ctx: DoctorContext = { settings, knownFiles, authMethods };
  const pending = new Set(hosts.map((h) => h.alias));
  const progressText = () =>
    `checking ${hosts.length - pending.size}/${hosts.length} hosts… waiting for ${[...pending].slice(0, 4).join(", ")}${pending.size > 4 ? ", …" : ""}`;
  const spin = spinner(io.progress, progressText());
  let results: HostDiagnosis[];
  try {
    results = await mapLimited(hosts, PARALLEL, async (h) => {
      const r = await diagnoseHost(h, ctx).catch((e: unknown): HostDiagnosis => ({
        alias: h.alias,
        address: hostAddress(h),
        checks: {
          dns: { ok: false, cell: "✗ error", advice: `Unexpected error: ${errorMessage(e)}` },
          tcp: SKIPPED,
          hostKey: SKIPPED,
          auth: SKIPPED,
          sftp: SKIPPED,
          rtt: SKIPPED,
        },
        ok: false,
      }));
      pending.delete(h.alias);
      spin.update(progressText());
      return r;
    });
  } finally {
    spin.stop();
  }

  const paint = (c: Check) =>
    c.ok === true
      ? c.cell.replace(/^✓/, style.green("✓"))
      : c.ok === false
        ? style.red(c.cell)
        : style.dim(c.cell);
  const rows = [
    ["", "HOST", "ADDRESS", ...CHECKS.map((c) => TITLES[c])].map((h) => style.bold(h)),
    ...results.map((r) => [
      r.ok ? style.green("✓") : style.red("✗"),
      r.alias,
      r.address,
      ...CHECKS.map((c) => paint(r.checks[c])),
    ]),
  ];
  out("\n" + renderTable(rows) + "\n");
  const failures = results.filter((r) => !r.ok);
  if (failures.length > 0) out("\n");
  for (const r of failures) {
    for (const c of CHECKS) {
      const check = r.checks[c];
      if (check.ok === false)
        out(
          `${style.red("✗")} ${r.alias} ${check.label ?? TITLES[c]}: ${oneLine(check.advice ?? check.cell)}\n`,
        );
    }
  }
  const bad = failures.length + unknown.length;
  const total = results.length + unknown.length;
  out(
    `\n${bad === 0 ? style.green(`All ${total} host${total === 1 ? "" : "s"} OK.`) : style.red(`${bad} of ${total} hosts failing.`)}\n`,
  );
  return bad === 0 ? 0 : 1;
}
