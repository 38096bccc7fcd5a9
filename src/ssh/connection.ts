/**
 * One SSH connection: an ssh2 Client (plus the private clients of its ProxyJump chain), its lazily
 * opened SFTP session, and the accounting of its channel slots. It knows nothing about pools: the
 * HostPool decides which connection serves a request and when one is closed.
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { AnyAuthMethod, AuthHandlerMiddleware, Client, ClientChannel, SFTPWrapper } from "ssh2";
import ssh2 from "../ssh2.js";
import type { HostConfig } from "../config/host.js";
import { ScoutError } from "../errors.js";
import { ExecChannel } from "./channel-state.js";
import type { SftpContext } from "./types.js";
import { coalesceWrites } from "./coalesce.js";

export interface ConnectionDeps {
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** Throws a ScoutError (host-key-unknown / host-key-changed) to refuse the key. */
  verifyHostKey(host: HostConfig, key: Buffer): Promise<void>;
  /** The auth methods to try in order; throws ScoutError("key-unusable") when there are none. */
  authMethods(host: HostConfig): Promise<AnyAuthMethod[]>;
  /** Told which of authMethods() got each hop in (`scout-mcp doctor` reports it). Optional. */
  onAuthenticated?(host: HostConfig, method: AnyAuthMethod): void;
}

export type ConnectionState = "connecting" | "ready" | "closed";

let nextConnectionId = 1;

export class SshConnection extends EventEmitter<{ close: [reason: ScoutError | undefined]; slotFreed: [] }> {
  readonly id = nextConnectionId++;
  readonly host: HostConfig;
  state: ConnectionState = "connecting";
  /** Channel slots in use: open exec channels, plus one while the SFTP session is open or opening. */
  channels = 0;
  /** SFTP users currently borrowing this connection (see lease/unlease). */
  private leaseCount = 0;
  /** performance.now() of the last use: monotonic and sub-millisecond, so LRU order is exact. */
  private lastUsedAt = performance.now();
  readonly createdAt = Date.now();
  /** Why the connection closed, when it did not close on our request. */
  closeReason: ScoutError | undefined;

  private client: Client | undefined;
  /**
   * Retired SFTP sessions whose channel has not closed yet (see SftpContext.retire). They keep
   * their channel slot, but do not keep the connection from being idle and reaped.
   */
  private retiredSftp = 0;
  /** Exec channels still open, marked as lost if the connection dies under them. */
  private readonly openExec = new Set<ExecChannel>();
  private readonly hops: Client[] = [];
  /** Sockets of a connect in progress: a failed or timed-out connect destroys them (no fd leak). */
  private readonly dialSockets = new Set<Duplex>();
  private sftpContext: Promise<SftpContext> | undefined;
  private closing = false;
  private closeEmitted = false;

  constructor(host: HostConfig) {
    super();
    this.host = host;
  }

  /** Operations currently borrowing the connection's SFTP session. */
  get leases(): number {
    return this.leaseCount;
  }

  get lastUsed(): number {
    return this.lastUsedAt;
  }

  /** An operation borrows the connection: it counts as busy (never idle) until unlease(). */
  lease(): void {
    this.leaseCount++;
    this.lastUsedAt = performance.now();
  }

  unlease(): void {
    this.leaseCount--;
    this.lastUsedAt = performance.now();
  }

  get hasSftp(): boolean {
    return this.sftpContext !== undefined;
  }

  /** Open exec channels (the SFTP session's slot and retired SFTP sessions excluded). */
  get execChannels(): number {
    return this.channels - (this.sftpContext ? 1 : 0) - this.retiredSftp;
  }

  /** Idle: ready, no operation borrowing it and no command running on it. */
  get isIdle(): boolean {
    return this.state === "ready" && this.leases === 0 && this.execChannels === 0;
  }

  /**
   * Dials the host (through its ProxyJump chain), verifies the host key and authenticates, all
   * under one deadline armed before the first packet so that a wedged connect can never hang.
   */
  async connect(deps: ConnectionDeps): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new ScoutError(
            "connect-timeout",
            `Connection to ${this.host.alias} (${this.host.hostname}:${this.host.port}) timed out after ${deps.connectTimeoutMs / 1000} s`,
            { hint: "Check that the host is up and reachable, or raise SCOUT_CONNECT_TIMEOUT" },
          ),
        );
      }, deps.connectTimeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([this.dialChain(deps), timeout]);
    } catch (e) {
      this.destroyAll();
      this.abortDial();
      this.state = "closed";
      throw e;
    } finally {
      clearTimeout(timer);
    }
    this.dialSockets.clear(); // owned by the clients from here on
    if (this.closing) {
      // close() was called while connecting: honor it now.
      this.destroyAll();
      this.state = "closed";
      throw new ScoutError("aborted", `Connection to ${this.host.alias} was closed while connecting`);
    }
    this.state = "ready";
    const client = this.client;
    client?.once("close", () => this.onClosed());
  }

  private async dialChain(deps: ConnectionDeps): Promise<void> {
    const invalid = configProblem(this.host);
    if (invalid) throw invalid;
    const chain = [...this.host.proxyJump, this.host];
    let sock: Duplex | undefined;
    for (let i = 0; i < chain.length; i++) {
      const hop = chain[i] as HostConfig;
      if (!sock) sock = await this.dialTcp(hop);
      this.dialSockets.add(sock);
      const client = await this.handshake(hop, sock, deps);
      if (i < chain.length - 1) {
        this.hops.push(client);
        const next = chain[i + 1] as HostConfig;
        sock = await forwardOut(client, next, hop);
      } else {
        this.client = client;
      }
      // A jump host dying takes the whole chain down.
      if (i < chain.length - 1) client.once("close", () => this.client?.end());
    }
  }

  private dialTcp(hop: HostConfig): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hop.hostname, port: hop.port });
      // Nagle + delayed ACK costs ~45 ms per exec round trip on small packets.
      socket.setNoDelay(true);
      // ...and without Nagle, each SSH packet would go out as its own segment: batch per tick.
      coalesceWrites(socket);
      const onError = (err: NodeJS.ErrnoException) => {
        socket.destroy();
        reject(classifySocketError(err, hop));
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        socket.off("error", onError);
        resolve(socket);
      });
    });
  }

  private async handshake(hop: HostConfig, sock: Duplex, deps: ConnectionDeps): Promise<Client> {
    const authHandler = await deps.authMethods(hop);
    // The same walk through the list as ssh2's own array handler, but we learn which method got in.
    let nextMethod = 0;
    let lastMethod: AnyAuthMethod | undefined;
    const pickMethod: AuthHandlerMiddleware = () => (lastMethod = authHandler[nextMethod++]) ?? false;
    const client = new ssh2.Client();
    let hostKeyError: unknown;
    return new Promise<Client>((resolve, reject) => {
      const fail = (err: Error & { level?: string }) => {
        client.removeAllListeners("ready");
        client.on("error", () => {});
        client.end();
        sock.destroy();
        if (hostKeyError) reject(hostKeyError);
        else reject(classifyHandshakeError(err, hop, authHandler));
      };
      client.once("ready", () => {
        if (lastMethod) deps.onAuthenticated?.(hop, lastMethod);
        client.removeListener("error", fail);
        // Errors after ready surface as 'close'; keep a listener so they never crash the process.
        client.on("error", () => {});
        resolve(client);
      });
      client.once("error", fail);
      client.once("close", () => fail(new Error("Connection closed during handshake")));
      client.connect({
        sock,
        username: hop.user,
        readyTimeout: 0, // our own deadline covers the whole chain
        keepaliveInterval: deps.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        authHandler: pickMethod,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          deps.verifyHostKey(hop, key).then(
            () => verify(true),
            (e: unknown) => {
              hostKeyError = e;
              verify(false);
            },
          );
        },
      });
    }).then((c) => {
      c.removeAllListeners("close");
      return c;
    });
  }

  /** The connection's single SFTP session, opened on first use and reused by every caller. */
  sftp(): Promise<SftpContext> {
    if (this.sftpContext) return this.sftpContext;
    const client = this.requireClient();
    this.channels++;
    // The slot is freed once, when the channel is really gone (or never opened).
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.channels--;
      this.emit("slotFreed");
    };
    const forget = () => {
      if (this.sftpContext === opening) this.sftpContext = undefined;
    };
    let channel: SFTPWrapper | undefined;
    const opening: Promise<SftpContext> = this.openChannel<SFTPWrapper>((cb) => client.sftp(cb))
      .then(
        (sftp) =>
          new Promise<SftpContext>((resolve, reject) => {
            channel = sftp;
            let retired = false;
            sftp.once("close", () => {
              forget();
              if (retired) this.retiredSftp--;
              retired = false;
              release();
            });
            const retire = () => {
              if (retired || released) return;
              retired = true;
              this.retiredSftp++;
              forget();
              try {
                sftp.end();
              } catch {
                /* already closing */
              }
              // The server may never confirm the close (its SFTP process can be stuck in a FIFO's
              // open, and sshd waits for it): fail what is pending now, so that readers are retried
              // on a fresh session instead of waiting forever. (push(null) is how ssh2 itself ends
              // an SFTP stream when its channel closes.)
              (sftp as SFTPWrapper & { push(chunk: null): void }).push(null);
            };
            sftp.realpath(".", (err, home) => (err ? reject(err) : resolve({ sftp, home, retire })));
          }),
      )
      .catch((e: unknown) => {
        forget();
        if (channel) channel.end();
        else release();
        throw new ScoutError("channel-failed", `Cannot open SFTP on ${this.host.alias}: ${describe(e)}`, {
          hint: "Check that the server enables the sftp subsystem",
          cause: e,
        });
      });
    this.sftpContext = opening;
    return opening;
  }

  /** Opens an exec channel; the slot is released when the channel closes. */
  exec(command: string): Promise<ExecChannel> {
    const client = this.requireClient();
    this.channels++;
    this.lastUsedAt = performance.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.channels--;
      this.lastUsedAt = performance.now();
      this.emit("slotFreed");
    };
    return this.openChannel<ClientChannel>((cb) => client.exec(command, cb)).then(
      (channel) => {
        const exec = new ExecChannel(channel);
        this.openExec.add(exec);
        channel.once("close", () => {
          this.openExec.delete(exec);
          release();
        });
        return exec;
      },
      (err: unknown) => {
        release();
        throw new ScoutError(
          "channel-failed",
          `Cannot start a command on ${this.host.alias}: ${describe(err)}`,
          {
            cause: err,
          },
        );
      },
    );
  }

  /**
   * sshd answers "open failed" while it still counts sessions we have already closed (it frees
   * them a moment later), so a refused open is retried briefly instead of failing the request.
   */
  private async openChannel<T>(open: (cb: (err: Error | undefined, value: T) => void) => void): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<T>((resolve, reject) => open((err, v) => (err ? reject(err) : resolve(v))));
      } catch (e) {
        const refused = e instanceof Error && /open failed/i.test(e.message);
        if (!refused || attempt >= 7 || this.state !== "ready") throw e;
        await new Promise((r) => setTimeout(r, 5 * 2 ** attempt));
      }
    }
  }

  /**
   * Kills the process groups of the commands still running on this connection, over this
   * connection (on shutdown: sshd does not signal a command when its session closes, so it would
   * run on). TERM, then KILL; best effort and bounded by `timeoutMs`.
   */
  async killCommands(timeoutMs = 3000): Promise<void> {
    // A command that has just started may not have reported its process group yet (it is the
    // first thing its wrapper prints): give those a moment.
    for (let waited = 0; waited < 1000; waited += 50) {
      if (![...this.openExec].some((ch) => ch.processGroupPending)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const running = [...this.openExec].filter((ch) => ch.processGroup !== undefined);
    if (running.length === 0 || this.state !== "ready" || !this.client) return;
    const why = new ScoutError("aborted", "Scout is shutting down");
    for (const ch of running) ch.markLost(why);
    const pgids = running.map((ch) => ch.processGroup as number);
    const client = this.client;
    // dash rejects `kill -SIG -- -PGID`; `kill -SIG -PGID` works in dash, bash, zsh and busybox.
    const k = (sig: string) =>
      pgids.map((p) => `{ kill -${sig} -${p} || kill -${sig} -- -${p}; } 2>/dev/null`).join("; ");
    const script = `${k("TERM")}; sleep 0.3; ${k("KILL")}; true`;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        // Straight on the client: the channel accounting may be full, and sshd's MaxSessions has
        // room above ours.
        client.exec(script, (err, ch) => {
          if (err) return resolve();
          ch.on("data", () => {});
          ch.stderr.on("data", () => {});
          ch.once("close", () => resolve());
          ch.end();
        });
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Closes the connection and its jump chain. Idempotent. The connection stops serving at once;
   * 'close' (which frees its pool slot) fires when the socket is really gone, so the pool cap also
   * holds at the TCP level.
   */
  close(): void {
    this.closing = true;
    if (this.state !== "ready") return; // connecting: connect() finishes the job; closed: done
    this.state = "closed";
    this.destroyAll();
    // A peer that never answers our disconnect must not hold the slot forever.
    setTimeout(() => {
      this.client?.destroy();
      for (const hop of this.hops) hop.destroy();
      this.onClosed();
    }, 1000).unref();
  }

  private requireClient(): Client {
    if (this.state !== "ready" || !this.client) {
      throw new ScoutError("connection-lost", `Connection to ${this.host.alias} is closed`);
    }
    return this.client;
  }

  /**
   * A peer that accepted TCP but never answers SSH (a hung sshd, a tarpit) would keep a half-done
   * connect's socket open forever: end() waits for a reply that never comes. Destroy them.
   */
  private abortDial(): void {
    for (const s of this.dialSockets) s.destroy();
    this.dialSockets.clear();
  }

  private destroyAll(): void {
    try {
      this.client?.end();
    } catch {
      /* already gone */
    }
    for (const hop of this.hops) {
      try {
        hop.end();
      } catch {
        /* already gone */
      }
    }
  }

  private onClosed(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    if (!this.closing) {
      this.closeReason = new ScoutError("connection-lost", `Connection to ${this.host.alias} was lost`);
    }
    this.state = "closed";
    // ssh2 emits the client's 'close' before it ends the channels: mark them first, so that a
    // command's result says its connection was lost rather than showing no exit status.
    const why = this.closeReason ?? new ScoutError("aborted", "Scout is shutting down");
    for (const ch of this.openExec) ch.markLost(why);
    this.destroyAll();
    this.sftpContext = undefined;
    this.emit("close", this.closeReason);
  }
}

/** The ScoutError for a host whose ssh config entry can never connect (see HostConfig.configError). */
export function configProblem(host: HostConfig): ScoutError | undefined {
  if (host.configError === undefined) return undefined;
  // configError already says what to change in the config.
  return new ScoutError("config", `Cannot connect to ${host.alias}: ${host.configError}`);
}

function forwardOut(client: Client, next: HostConfig, via: HostConfig): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    client.forwardOut("127.0.0.1", 0, next.hostname, next.port, (err, stream) => {
      if (err) {
        reject(
          new ScoutError(
            "connection-refused",
            `Jump host ${via.alias} could not reach ${next.hostname}:${next.port}: ${err.message}`,
            { hint: "Check the ProxyJump chain and that the jump host allows TCP forwarding" },
          ),
        );
      } else resolve(stream);
    });
  });
}

function classifySocketError(err: NodeJS.ErrnoException, hop: HostConfig): ScoutError {
  const where = `${hop.alias} (${hop.hostname}:${hop.port})`;
  switch (err.code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ScoutError("dns", `Cannot resolve host name ${hop.hostname} for ${hop.alias}`, {
        hint: "Check HostName in your ssh config and your DNS",
        cause: err,
      });
    case "ECONNREFUSED":
      return new ScoutError("connection-refused", `Connection refused by ${where}`, {
        hint: "Is sshd running on that port?",
        cause: err,
      });
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new ScoutError("connection-refused", `No route to ${where}`, {
        hint: "Check the network path to the host",
        cause: err,
      });
    default:
      return new ScoutError("connection-lost", `Cannot connect to ${where}: ${err.message}`, { cause: err });
  }
}

function classifyHandshakeError(
  err: Error & { level?: string },
  hop: HostConfig,
  methods: AnyAuthMethod[],
): ScoutError {
  if (err.level === "client-authentication") {
    const tried = methods
      .map((m) => (m.type === "agent" ? "ssh-agent" : m.type === "publickey" ? describeKey(m) : m.type))
      .join(", ");
    return new ScoutError(
      "auth-failed",
      `Authentication failed for ${hop.user}@${hop.hostname}:${hop.port} (${hop.alias}); tried ${tried || "no keys"}`,
      {
        hint: "Check User and IdentityFile in your ssh config, and that the public key is in the remote authorized_keys",
        cause: err,
      },
    );
  }
  return new ScoutError(
    "connection-lost",
    `SSH handshake with ${hop.alias} (${hop.hostname}:${hop.port}) failed: ${err.message}`,
    {
      hint: "Is an SSH server listening on that port?",
      cause: err,
    },
  );
}

function describeKey(m: AnyAuthMethod): string {
  const withPath = m as AnyAuthMethod & { keyPath?: string };
  return withPath.keyPath ? `key ${withPath.keyPath}` : "a key";
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
