/**
 * The lab fleet: a handful of real OpenSSH servers on 127.0.0.1, each on its own port with its own
 * host key, all letting one unprivileged user in with one client key. Every test and benchmark
 * runs against it, and `scout-mcp demo` starts a throwaway one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  unlink,
  writeFile,
} from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { ConnectConfig } from "ssh2";
import { FaultProxy, findFreePort } from "./fault-proxy.js";

export interface LabHost {
  /** "host-0", "host-1", … (prefix configurable). */
  alias: string;
  hostname: string;
  port: number;
  /** A per-host directory owned by (and writable by) the fleet user. */
  root: string;
  /** The host public key line, "ssh-ed25519 AAAA…". */
  hostKeyPublic: string;
  /** The sshd's pid while it runs (extra, for tests that check processes). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Kills this sshd (SIGTERM, waits for exit) and every session it spawned, like the host going down. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same keys. */
  start(): Promise<void>;
  restart(): Promise<void>;
}

export interface SshConfigEntry {
  alias: string;
  port: number;
  hostname?: string;
  /** Extra ssh_config lines for this Host block, e.g. "ConnectTimeout 1". */
  extra?: string[];
}

export interface LabFleet {
  /** Temp dir holding everything (keys, configs, host roots). */
  dir: string;
  /** Remote login user. */
  user: string;
  /** That user's home directory. */
  home: string;
  /** Unencrypted ed25519 private key authorized on every host. */
  clientKeyPath: string;
  /** ssh_config with one `Host <alias>` block per host. */
  sshConfigPath: string;
  /** known_hosts with a `[127.0.0.1]:PORT ssh-ed25519 …` line per host and per proxy made by proxy(). */
  knownHostsPath: string;
  hosts: LabHost[];
  /** ssh2 ConnectConfig for host i (host, port, username, privateKey, and a hostVerifier for its key). */
  connectConfig(i: number): ConnectConfig;
  /** Writes a file owned by the fleet user at an absolute path or one relative to hosts[0].root; returns the absolute path. */
  writeFile(absOrRelToHost0Root: string, content: string | Buffer, mode?: number): Promise<string>;
  /** Runs a local shell command as the fleet user (cwd hosts[0].root). */
  runAsUser(command: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** A FaultProxy in front of host i, closed by stop(); its port is added to known_hosts with host i's key. */
  proxy(i: number, options?: { latencyMs?: number }): Promise<FaultProxy>;
  /** Writes an extra ssh_config (same User/IdentityFile/IdentitiesOnly) in the fleet dir; returns its path. */
  writeSshConfig(entries: SshConfigEntry[], fileName?: string): Promise<string>;
  /** Stops every sshd and proxy and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface FleetOptions {
  /** Number of hosts (default 1). */
  hosts?: number;
  /** Alias prefix (default "host"). */
  prefix?: string;
  /** sshd MaxSessions (default 10, OpenSSH's default, made explicit). */
  maxSessions?: number;
  /**
   * Extra sshd_config lines. sshd keeps the FIRST value it sees for a keyword, so these go before
   * the defaults and override them; a `Match` block (and everything after it) goes at the end.
   */
  extraSshdConfig?: string[];
  /**
   * Extra sshd_config lines for one host only (by alias and index), placed before extraSshdConfig
   * so they win over it; e.g. `SetEnv PATH=/shims:/usr/bin:/bin` to give one host fake tools.
   */
  hostSshdConfig?: (alias: string, index: number) => string[];
  /**
   * A CA private key: every host key gets a host certificate signed by it (principals 127.0.0.1
   * and the alias), served with HostCertificate to clients that ask for certificates.
   */
  hostCertificateCa?: string;
}

/** The dedicated login user when running as root (root's shell startup is slow and it's root). */
export const LAB_USER = "scoutlab";
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** A short pause inside an operation someone awaits: it must keep the process alive, so not unref'd. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { uid?: number; gid?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function firstExisting(candidates: Array<string | undefined>): string | undefined {
  return candidates.find((c): c is string => !!c && existsSync(c));
}

// ---------------------------------------------------------------------------------------------
// The login user

interface FleetUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Whether files we create must be chowned to the user (we run as root). */
  chown: boolean;
}

let fleetUserPromise: Promise<FleetUser> | undefined;

function fleetUser(): Promise<FleetUser> {
  fleetUserPromise ??= resolveFleetUser().catch((err: unknown) => {
    fleetUserPromise = undefined; // let a later fleet try again
    throw err;
  });
  return fleetUserPromise;
}

async function getentPasswd(
  name: string,
): Promise<{ uid: number; gid: number; home: string; shell: string } | undefined> {
  const r = await run("getent", ["passwd", name]);
  const fields = r.stdout.trim().split(":");
  if (r.code !== 0 || fields.length < 7) return undefined;
  return { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]!, shell: fields[6]! };
}

async function shadowLocked(name: string): Promise<boolean> {
  let shadow: string;
  try {
    shadow = await readFile("/etc/shadow", "utf8");
  } catch {
    return false; // no shadow file: nothing to unlock
  }
  const line = shadow.split("\n").find((l) => l.startsWith(`${name}:`));
  return (line?.split(":")[1] ?? "").startsWith("!");
}

async function resolveFleetUser(): Promise<FleetUser> {
  if (process.getuid?.() !== 0) {
    // sshd not running as root can only log in its own user.
    const me = os.userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir, chown: false };
  }
  const useradd = firstExisting(["/usr/sbin/useradd", "/sbin/useradd"]) ?? "useradd";
  const usermod = firstExisting(["/usr/sbin/usermod", "/sbin/usermod"]) ?? "usermod";
  // Test files start fleets in parallel processes: useradd/usermod may race each other (exit 9
  // "already exists", or "cannot lock /etc/passwd"), so re-check and retry instead of failing.
  let lastError = "";
  for (let attempt = 0; attempt < 40; attempt++) {
    if (attempt > 0) await sleep(25 + Math.random() * 50);
    const entry = await getentPasswd(LAB_USER);
    if (!entry) {
      const r = await run(useradd, ["-m", "-s", "/bin/sh", LAB_USER]);
      lastError = r.stderr;
      continue;
    }
    // useradd leaves the account locked ("!"), and sshd without PAM refuses locked accounts.
    const args: string[] = [];
    if (await shadowLocked(LAB_USER)) args.push("-p", "*");
    if (entry.shell !== "/bin/sh") args.push("-s", "/bin/sh");
    if (args.length > 0) {
      const r = await run(usermod, [...args, LAB_USER]);
      lastError = r.stderr;
      continue; // verify on the next round
    }
    if (!existsSync(entry.home)) {
      await mkdir(entry.home, { recursive: true, mode: 0o755 });
      await chown(entry.home, entry.uid, entry.gid);
    }
    return { name: LAB_USER, uid: entry.uid, gid: entry.gid, home: entry.home, chown: true };
  }
  throw new Error(`Could not create or unlock the lab user '${LAB_USER}': ${lastError.trim()}`);
}

// ---------------------------------------------------------------------------------------------
// sshd and keys

interface SshdInfo {
  path: string;
  major: number;
  minor: number;
}

let sshdInfoPromise: Promise<SshdInfo> | undefined;

function sshdInfo(): Promise<SshdInfo> {
  sshdInfoPromise ??= (async () => {
    // sshd refuses to start unless run by absolute path (it re-executes itself per connection).
    const sshd = firstExisting([
      process.env.SCOUT_SSHD,
      "/usr/sbin/sshd",
      "/usr/local/sbin/sshd",
      "/usr/bin/sshd",
      "/opt/homebrew/sbin/sshd",
      "/usr/local/bin/sshd",
    ]);
    if (!sshd) {
      throw new Error(
        "OpenSSH server not found (no /usr/sbin/sshd); install openssh-server or set SCOUT_SSHD",
      );
    }
    // -V prints the version (older releases print it in the usage message instead).
    const r = await run(sshd, ["-V"]);
    const m = /OpenSSH_(\d+)\.(\d+)/.exec(r.stderr + r.stdout);
    return { path: sshd, major: m ? Number(m[1]) : 9, minor: m ? Number(m[2]) : 0 };
  })();
  return sshdInfoPromise;
}

const atLeast = (v: SshdInfo, major: number, minor: number) =>
  v.major > major || (v.major === major && v.minor >= minor);

/** Generates an unencrypted ed25519 key pair; returns the public key line without its comment. */
async function keygen(file: string, comment: string): Promise<string> {
  const r = await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed for ${file}: ${r.stderr.trim()}`);
  const pub = await readFile(`${file}.pub`, "utf8");
  return pub.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** Quotes a config argument that contains whitespace (ssh and sshd both accept double quotes). */
const q = (s: string) => (/[\s"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s);

function sshdConfig(o: {
  port: number;
  hostKey: string;
  authorizedKeys: string;
  user: string;
  maxSessions: number;
  extra: string[];
  sshd: SshdInfo;
}): string {
  const matchAt = o.extra.findIndex((l) => /^\s*match\s/i.test(l));
  const extraFirst = matchAt < 0 ? o.extra : o.extra.slice(0, matchAt);
  const extraLast = matchAt < 0 ? [] : o.extra.slice(matchAt);
  const lines = [
    ...extraFirst,
    `ListenAddress 127.0.0.1:${o.port}`,
    "AddressFamily inet",
    `HostKey ${q(o.hostKey)}`,
    "UsePAM no",
    "Subsystem sftp internal-sftp",
    `MaxSessions ${o.maxSessions}`,
    "PasswordAuthentication no",
    atLeast(o.sshd, 8, 7) ? "KbdInteractiveAuthentication no" : "ChallengeResponseAuthentication no",
    "PubkeyAuthentication yes",
    // sshd expands % tokens in this path.
    `AuthorizedKeysFile ${q(o.authorizedKeys.replace(/%/g, "%%"))}`,
    "StrictModes no",
    "PidFile none",
    `AllowUsers ${o.user}`,
    "LogLevel ERROR",
    // Tests open many connections at once; the default 10:30:100 would drop some.
    "MaxStartups 200:30:300",
    ...(atLeast(o.sshd, 8, 5) ? ["PerSourceMaxStartups none"] : []),
    "PermitRootLogin no",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "X11Forwarding no",
    "AllowTcpForwarding yes", // ProxyJump tests hop through one lab host to another
    ...extraLast,
  ];
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping and the safety nets

/** Every sshd we started and that has not exited yet, across all fleets of this process. */
const liveSshds = new Set<ChildProcess>();
/** Temp dirs of fleets not stopped yet. */
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work is possible here: kill what is left and remove the temp dirs.
  process.on("exit", () => {
    for (const child of liveSshds) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const dir of liveDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
}

/**
 * A detached shell that holds the read end of a pipe from this process. If the process dies in a
 * way that skips 'exit' handlers (SIGKILL, a fatal signal, a killed test worker) the pipe closes,
 * and the watchdog kills the sshds recorded in `<dir>/.pids` and removes the dir. stop() kills it.
 */
function startWatchdog(dir: string): ChildProcess {
  const script = [
    "read -r _ || :",
    'for f in "$1"/.pids/*; do [ -e "$f" ] && kill -TERM "${f##*/}"; done 2>/dev/null',
    "sleep 0.2",
    'rm -rf "$1"',
  ].join("\n");
  const child = spawn("/bin/sh", ["-c", script, "scout-lab-watchdog", dir], {
    detached: true, // its own session: a Ctrl-C aimed at us must not kill it before it cleans up
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.on("error", () => {}); // no /bin/sh: the exit hook still covers normal exits
  child.unref();
  (child.stdin as net.Socket | null)?.unref();
  return child;
}

/** All descendants of `root` (pids), from /proc or `ps`. */
async function descendants(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  if (existsSync("/proc/self/stat")) {
    const entries = await readdir("/proc").catch(() => [] as string[]);
    await Promise.all(
      entries
        .filter((e) => /^\d+$/.test(e))
        .map(async (e) => {
          try {
            const stat = await readFile(`/proc/${e}/stat`, "utf8");
            // "pid (comm) state ppid …" — comm may contain spaces and parentheses.
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            parentOf.set(Number(e), ppid);
          } catch {
            // exited meanwhile
          }
        }),
    );
  } else {
    const r = await run("ps", ["-A", "-o", "pid=,ppid="]).catch(() => undefined);
    for (const line of r?.stdout.split("\n") ?? []) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (pid && ppid) parentOf.set(pid, ppid);
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentOf) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// One host

type LaunchResult = { ok: true } | { ok: false; addressInUse: boolean; message: string };

class Host implements LabHost {
  readonly hostname = "127.0.0.1";
  port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** start/stop/restart run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private up = false;

  constructor(
    readonly alias: string,
    readonly root: string,
    readonly hostKeyPublic: string,
    private readonly fleet: FleetContext,
    private readonly configPath: string,
    private readonly writeConfig: (port: number) => Promise<void>,
  ) {}

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** Started and listening (not merely spawned: a start() may still be retrying). */
  get running(): boolean {
    return this.up && this.alive;
  }

  private get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** First start: picks a free port, and another one if it's taken before sshd binds it. */
  async boot(): Promise<void> {
    let last = "";
    for (let attempt = 0; attempt < 10; attempt++) {
      this.port = await findFreePort();
      await this.writeConfig(this.port);
      const r = await this.launch();
      if (r.ok) return;
      last = r.message;
      if (!r.addressInUse) break;
    }
    throw new Error(`sshd for ${this.alias} did not start: ${last}`);
  }

  start(): Promise<void> {
    return this.serialize(async () => {
      if (this.disposed) throw new Error(`The lab fleet of ${this.alias} has been stopped`);
      if (this.running) return;
      // Same port: retry while something (a lingering listener) still holds it.
      const deadline = performance.now() + START_TIMEOUT_MS;
      for (;;) {
        const r = await this.launch();
        if (r.ok) return;
        if (!r.addressInUse || performance.now() > deadline) {
          throw new Error(`sshd for ${this.alias} did not restart on port ${this.port}: ${r.message}`);
        }
        await sleep(50);
      }
    });
  }

  stop(): Promise<void> {
    return this.serialize(() => this.kill());
  }

  restart(): Promise<void> {
    return this.stop().then(() => this.start());
  }

  /** Final stop by the fleet: no start() afterwards. */
  dispose(): Promise<void> {
    this.disposed = true;
    return this.stop();
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private async launch(): Promise<LaunchResult> {
    const { sshd, dir } = this.fleet;
    const child = spawn(sshd.path, ["-D", "-e", "-f", this.configPath], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
    });
    // Neither the sshd nor its log pipe may keep the test process alive.
    child.unref();
    (child.stderr as net.Socket).unref();
    let failure: string | undefined;
    const pidFile = child.pid ? path.join(dir, ".pids", String(child.pid)) : undefined;
    const exited = new Promise<void>((resolve) => {
      // `on`, not `once`: a failed kill() is reported as another 'error' event.
      child.on("error", (err) => {
        failure ??= err.message;
        if (child.pid === undefined) {
          // It never started, so no 'exit' will follow.
          liveSshds.delete(child);
          resolve();
        }
      });
      child.once("exit", (code, sig) => {
        failure = `exited with ${sig ?? `code ${code}`}`;
        liveSshds.delete(child);
        if (pidFile) unlink(pidFile).catch(() => {});
        resolve();
      });
    });
    liveSshds.add(child);
    if (pidFile) await writeFile(pidFile, "").catch(() => {});
    this.child = child;
    this.exited = exited;
    this.up = false;

    const deadline = performance.now() + START_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (failure === undefined && child.pid !== undefined && (await listening(child.pid, this.port))) {
        this.up = true;
        return { ok: true };
      }
      if (failure !== undefined) {
        // Let the last of its stderr arrive.
        await Promise.race([new Promise((r) => child.stderr!.once("close", r)), sleep(200)]);
        const message = `${failure}: ${stderr.trim() || "(no output)"}`;
        return {
          ok: false,
          addressInUse: /Address already in use|Cannot bind any address/i.test(stderr),
          message,
        };
      }
      await sleep(10);
    }
    child.kill("SIGKILL");
    await exited;
    return {
      ok: false,
      addressInUse: false,
      message: `not listening after ${START_TIMEOUT_MS} ms: ${stderr}`,
    };
  }

  private async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive || child.pid === undefined) return;
    const pid = child.pid;
    // Take the sessions down with the listener, as if the host went down. They run in their own
    // process sessions (sshd calls setsid), so a process-group kill would miss them, and a session
    // may be forking right now (sshd forks the post-auth process after the client already saw
    // auth succeed). So freeze the whole tree first — stopped processes can't fork, exit or reap,
    // so the tree and its pids hold still — rescanning until nothing new shows up, then kill it.
    signal(pid, "SIGSTOP");
    const frozen = new Set<number>();
    for (let round = 0; round < 20; round++) {
      const found = (await descendants(pid)).filter((p) => !frozen.has(p));
      if (found.length === 0) break;
      for (const p of found) {
        signal(p, "SIGSTOP");
        frozen.add(p);
      }
    }
    for (const p of frozen) signal(p, "SIGKILL");
    signal(pid, "SIGTERM");
    signal(pid, "SIGCONT");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">(
      (resolve) => (timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS)),
    );
    const outcome = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      signal(pid, "SIGKILL");
      await this.exited;
    }
  }
}

/**
 * Whether sshd `pid` is listening on 127.0.0.1:port. On Linux this looks for the listening socket
 * among sshd's own fds: a TCP probe could be answered by whatever else holds the port while our
 * sshd is about to fail on it, and each probe makes sshd fork a session process.
 */
async function listening(pid: number, port: number): Promise<boolean> {
  const owned = await ownsListener(pid, port);
  return owned ?? acceptsTcp(port);
}

/** Whether /proc shows sockets and fds of our children (Linux, /proc not hardened). */
let procUsable: boolean | undefined;

/** undefined when /proc can't tell (not Linux, or a hardened /proc). */
async function ownsListener(pid: number, port: number): Promise<boolean | undefined> {
  if (procUsable === undefined) {
    try {
      await Promise.all([readFile("/proc/net/tcp", "utf8"), readdir(`/proc/${process.pid}/fd`)]);
      procUsable = true;
    } catch {
      procUsable = false;
    }
  }
  if (!procUsable) return undefined;
  let table: string;
  let fds: string[];
  try {
    [table, fds] = await Promise.all([readFile("/proc/net/tcp", "utf8"), readdir(`/proc/${pid}/fd`)]);
  } catch {
    return false; // sshd has exited (it failed to bind, say)
  }
  const inodes = new Set<string>();
  for (const line of table.split("\n").slice(1)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …; st 0A = LISTEN
    const f = line.trim().split(/\s+/);
    if (f[3] === "0A" && parseInt(f[1]?.split(":")[1] ?? "", 16) === port && f[9]) inodes.add(f[9]);
  }
  if (inodes.size === 0) return false;
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => "")));
  return links.some((l) => inodes.has(/^socket:\[(\d+)\]$/.exec(l)?.[1] ?? ""));
}

/** Resolves true when something accepts TCP connections on 127.0.0.1:port. */
function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------
// The fleet

interface FleetContext {
  dir: string;
  sshd: SshdInfo;
}

function sshConfigText(
  entries: SshConfigEntry[],
  common: { user: string; identityFile: string },
  header = "# Lab fleet ssh_config (generated; removed when the fleet stops)",
): string {
  const blocks = entries.map((e) =>
    [
      `Host ${e.alias}`,
      `  HostName ${e.hostname ?? "127.0.0.1"}`,
      `  Port ${e.port}`,
      `  User ${common.user}`,
      `  IdentityFile ${q(common.identityFile)}`,
      "  IdentitiesOnly yes",
      ...(e.extra ?? []).map((l) => `  ${l}`),
    ].join("\n"),
  );
  return [header, ...blocks].join("\n\n") + "\n";
}

/** Writes through a temp file and rename, so a concurrent reader never sees a partial file. */
async function writeAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, content, { mode: 0o644 });
  await rename(tmp, file);
}

function keyBlob(line: string): Buffer {
  return Buffer.from(line.trim().split(/\s+/)[1] ?? "", "base64");
}

class Fleet implements LabFleet {
  readonly hosts: Host[] = [];
  readonly sshConfigPath: string;
  readonly knownHostsPath: string;
  private readonly proxies = new Set<FaultProxy>();
  private readonly knownLines: string[] = [];
  private knownWrite: Promise<void> = Promise.resolve();
  private configCount = 0;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    private readonly account: FleetUser,
    readonly clientKeyPath: string,
    private readonly clientKey: Buffer,
    private readonly watchdog: ChildProcess,
  ) {
    this.sshConfigPath = path.join(dir, "ssh_config");
    this.knownHostsPath = path.join(dir, "known_hosts");
  }

  get user(): string {
    return this.account.name;
  }

  get home(): string {
    return this.account.home;
  }

  private host(i: number): Host {
    const host = this.hosts[i];
    if (!host) throw new RangeError(`No lab host ${i} (the fleet has ${this.hosts.length})`);
    return host;
  }

  connectConfig(i: number): ConnectConfig {
    const host = this.host(i);
    const expected = keyBlob(host.hostKeyPublic);
    return {
      host: host.hostname,
      port: host.port,
      username: this.user,
      privateKey: this.clientKey,
      hostVerifier: (key: Buffer) => key.equals(expected),
    };
  }

  async writeFile(file: string, content: string | Buffer, mode = 0o644): Promise<string> {
    const abs = path.isAbsolute(file) ? file : path.join(this.host(0).root, file);
    await this.mkdirAsUser(path.dirname(abs));
    await writeFile(abs, content);
    if (this.account.chown) await chown(abs, this.account.uid, this.account.gid);
    await chmod(abs, mode); // explicit: the umask must not decide fixture modes
    return abs;
  }

  private async mkdirAsUser(dir: string): Promise<void> {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = path.dirname(d)) missing.unshift(d);
    for (const d of missing) {
      await mkdir(d, { recursive: true, mode: 0o755 });
      if (this.account.chown) await chown(d, this.account.uid, this.account.gid);
    }
  }

  runAsUser(command: string): Promise<RunResult> {
    const { uid, gid, home, name, chown: asOther } = this.account;
    return run("/bin/sh", ["-c", command], {
      cwd: this.host(0).root,
      env: { ...process.env, HOME: home, USER: name, LOGNAME: name, SHELL: "/bin/sh" },
      // Node drops root's supplementary groups when uid/gid are set.
      ...(asOther ? { uid, gid } : {}),
    });
  }

  async proxy(i: number, options: { latencyMs?: number } = {}): Promise<FaultProxy> {
    if (this.stopping) throw new Error("The lab fleet has been stopped");
    const host = this.host(i);
    const proxy = await FaultProxy.start({ targetPort: host.port, latencyMs: options.latencyMs ?? 0 });
    this.proxies.add(proxy);
    this.knownLines.push(`[127.0.0.1]:${proxy.port} ${host.hostKeyPublic}`);
    await this.writeKnownHosts();
    return proxy;
  }

  /** Rewrites known_hosts; writes are chained so the last one has every line. */
  writeKnownHosts(): Promise<void> {
    const write = this.knownWrite.then(() =>
      writeAtomic(this.knownHostsPath, this.knownLines.join("\n") + "\n"),
    );
    this.knownWrite = write.catch(() => {});
    return write;
  }

  addKnownHost(line: string): void {
    this.knownLines.push(line);
  }

  async writeSshConfig(entries: SshConfigEntry[], fileName?: string): Promise<string> {
    const file = path.resolve(this.dir, fileName ?? `ssh_config.${++this.configCount}`);
    await writeAtomic(file, sshConfigText(entries, { user: this.user, identityFile: this.clientKeyPath }));
    return file;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.allSettled([...this.proxies].map((p) => p.close()));
      await Promise.allSettled(this.hosts.map((h) => h.dispose()));
      this.watchdog.kill("SIGKILL");
      liveDirs.delete(this.dir);
      await rm(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    })();
    return this.stopping;
  }
}

/** Starts a fleet of real sshds on 127.0.0.1. Stop it with `fleet.stop()`. */
export async function startFleet(options: FleetOptions = {}): Promise<LabFleet> {
  const count = options.hosts ?? 1;
  const prefix = options.prefix ?? "host";
  const maxSessions = options.maxSessions ?? 10;
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`hosts must be a positive integer, got ${count}`);
  installExitHook();
  const isRoot = process.getuid?.() === 0;

  const dir = await mkdtemp(path.join(os.tmpdir(), "scout-lab-"));
  liveDirs.add(dir);
  const watchdog = startWatchdog(dir);
  let fleet: Fleet | undefined;
  try {
    // mkdtemp makes the dir 0700; the login user must traverse it to reach its host roots.
    await chmod(dir, 0o755);
    await mkdir(path.join(dir, ".pids"));
    if (isRoot) await mkdir("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privsep dir

    const clientKeyPath = path.join(dir, "client_ed25519");
    const aliases = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
    const [account, sshd, clientPublic, hostPublics] = await Promise.all([
      fleetUser(),
      sshdInfo(),
      keygen(clientKeyPath, "scout-lab-client"),
      Promise.all(aliases.map((a) => keygen(path.join(dir, `${a}.host_ed25519`), `scout-lab-${a}`))),
    ]);
    const authorizedKeys = path.join(dir, "authorized_keys");
    await writeFile(authorizedKeys, clientPublic + "\n", { mode: 0o644 });
    fleet = new Fleet(dir, account, clientKeyPath, await readFile(clientKeyPath), watchdog);
    const context: FleetContext = { dir, sshd };
    const extra = options.extraSshdConfig ?? [];

    for (const [i, alias] of aliases.entries()) {
      const root = path.join(dir, alias);
      await mkdir(root, { mode: 0o755 });
      if (account.chown) await chown(root, account.uid, account.gid);
      const configPath = path.join(dir, `${alias}.sshd_config`);
      const hostKey = path.join(dir, `${alias}.host_ed25519`);
      const hostExtra = [...(options.hostSshdConfig?.(alias, i) ?? []), ...extra];
      if (options.hostCertificateCa) {
        const signed = await run("ssh-keygen", [
          ...["-q", "-s", options.hostCertificateCa, "-h", "-I", alias, "-n", `127.0.0.1,${alias}`],
          ...["-V", "-5m:+1d", `${hostKey}.pub`],
        ]);
        if (signed.code !== 0) throw new Error(`ssh-keygen -s failed for ${alias}: ${signed.stderr.trim()}`);
        hostExtra.push(`HostCertificate ${q(`${hostKey}-cert.pub`)}`);
      }
      const writeConfig = (port: number) =>
        writeFile(
          configPath,
          sshdConfig({
            port,
            hostKey,
            authorizedKeys,
            user: account.name,
            maxSessions,
            extra: hostExtra,
            sshd,
          }),
        );
      fleet.hosts.push(new Host(alias, root, hostPublics[i]!, context, configPath, writeConfig));
    }
    await Promise.all(fleet.hosts.map((h) => h.boot()));

    for (const h of fleet.hosts) fleet.addKnownHost(`[127.0.0.1]:${h.port} ${h.hostKeyPublic}`);
    await Promise.all([
      fleet.writeKnownHosts(),
      writeAtomic(
        fleet.sshConfigPath,
        sshConfigText(
          fleet.hosts.map((h) => ({ alias: h.alias, port: h.port })),
          { user: account.name, identityFile: clientKeyPath },
        ),
      ),
    ]);
    return fleet;
  } catch (err) {
    if (fleet) {
      await fleet.stop().catch(() => {});
    } else {
      watchdog.kill("SIGKILL");
      liveDirs.delete(dir);
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
    throw err;
  }
}
