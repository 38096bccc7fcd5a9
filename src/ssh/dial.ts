/**
 * Dialing a host the way its resolution says: the route (ProxyCommand, ProxyJump chain, or a
 * direct TCP connect), the SSH handshake of every hop with host-key verification and
 * authentication, all under one deadline (the host's ConnectTimeout, else SCOUT_CONNECT_TIMEOUT)
 * armed before the first packet. What it yields, a Route, owns every resource of the chain: the
 * clients, and the ProxyCommand processes, which die with it.
 */
import type { Duplex } from "node:stream";
import net from "node:net";
import type { AnyAuthMethod, AuthHandlerMiddleware, Client, ServerHostKeyAlgorithm } from "ssh2";
import ssh2 from "../ssh2.js";
import type { HostConfig } from "../config/host.js";
import { ScoutError } from "../errors.js";
import { coalesceWrites } from "./coalesce.js";
import { spawnProxyCommand, type ProxyProcess } from "./proxy-command.js";
import { classifyHandshakeError } from "./dial-errors.js";
import { acceptHostCertificate } from "./host-cert.js";

export interface DialDeps {
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** Throws a ScoutError (host-key-unknown / host-key-changed) to refuse the key. */
  verifyHostKey(host: HostConfig, key: Buffer): Promise<void>;
  /** The auth methods to try in order; throws ScoutError("key-unusable") when there are none. */
  authMethods(host: HostConfig): Promise<AnyAuthMethod[]>;
  /** Told which of authMethods() got each hop in (`scout-mcp doctor` reports it). Optional. */
  onAuthenticated?(host: HostConfig, method: AnyAuthMethod): void;
  /**
   * Host key algorithms to ask for, when not ssh2's defaults: certificates first for a host with
   * an @cert-authority line (ssh/host-cert.ts). Optional.
   */
  hostKeyAlgorithms?(host: HostConfig): Promise<string[] | undefined>;
}

/** The hops of a host's route in dialing order, the host last: [...jump hosts, host]. */
export function routeOf(host: HostConfig, depth = 0): HostConfig[] {
  const [first, ...rest] = host.proxyJump;
  if (!first) return [host];
  // The config layer flattens chains (ssh -J a,b: a's own ProxyJump applies); this only guards
  // a HostConfig built by hand with nested jumps.
  if (depth > 16) throw new ScoutError("config", `ProxyJump chain of ${host.alias} is too deep`);
  return [...routeOf(first, depth + 1), ...rest, host];
}

/** How the host is reached, for doctor and logs: "direct", "ProxyJump a → b", "ProxyCommand …". */
export function describeRoute(host: HostConfig): string {
  const hops = routeOf(host);
  const first = hops[0] as HostConfig;
  const parts: string[] = [];
  if (first.proxyCommand !== undefined) parts.push(`ProxyCommand ${first.proxyCommand}`);
  if (hops.length > 1)
    parts.push(
      `ProxyJump ${hops
        .slice(0, -1)
        .map((h) => h.alias)
        .join(" → ")}`,
    );
  return parts.length ? parts.join(", then ") : "direct";
}

/**
 * Status probe of a route that starts with a ProxyCommand: runs the command and reports whether an
 * SSH server greets through it ("SSH-" banner) within `timeoutMs`. Never throws: a command that
 * cannot run (or a name it refuses) is offline.
 */
export function proxyCommandProbe(firstHop: HostConfig, timeoutMs: number): Promise<boolean> {
  let proxy: ProxyProcess;
  try {
    proxy = spawnProxyCommand(firstHop);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise<boolean>((resolve) => {
    let seen = "";
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      proxy.stream.removeAllListeners("data");
      proxy.stream.on("error", () => {});
      proxy.stream.destroy();
      proxy.kill();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    proxy.stream.on("data", (b: Buffer) => {
      seen += b.toString("latin1");
      // The identification string may follow other lines (RFC 4253 4.2).
      if (/(^|\n)SSH-/.test(seen)) done(true);
      else if (seen.length > 8192) done(false);
    });
    proxy.stream.once("error", () => done(false));
    proxy.stream.once("end", () => done(false));
  });
}

/** A dialed host: the authenticated client and the resources of its route. */
export class Route {
  private ended = false;

  constructor(
    readonly client: Client,
    private readonly hops: Client[],
    private readonly proxies: ProxyProcess[],
  ) {
    // A jump host dying (or a ProxyCommand exiting) takes the whole chain down.
    for (const hop of hops) hop.once("close", () => client.end());
    for (const p of proxies) p.once("exit", () => client.end());
    client.once("close", () => this.killProxies());
  }

  /** Ends every client of the chain (a polite disconnect); the proxies die when the client closes. */
  end(): void {
    this.ended = true;
    for (const c of [this.client, ...this.hops]) {
      try {
        c.end();
      } catch {
        /* already gone */
      }
    }
  }

  /** Tears the chain down at once (a peer that never answers our disconnect). */
  destroy(): void {
    this.ended = true;
    for (const c of [this.client, ...this.hops]) c.destroy();
    this.killProxies();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private killProxies(): void {
    for (const p of this.proxies) p.kill();
  }
}

/** Resources of a dial in progress: a failure or the deadline destroys them all (no fd/process leak). */
class DialAttempt {
  readonly sockets = new Set<Duplex>();
  readonly clients: Client[] = [];
  readonly proxies: ProxyProcess[] = [];

  abort(): void {
    for (const c of this.clients) {
      c.removeAllListeners("ready");
      c.on("error", () => {});
      c.destroy();
    }
    for (const s of this.sockets) s.destroy();
    for (const p of this.proxies) p.kill();
  }
}

/**
 * Dials the host through its route, verifies host keys and authenticates every hop. `isCancelled`
 * is checked once connected: a connection closed while connecting is torn down here.
 */
export async function dial(host: HostConfig, deps: DialDeps): Promise<Route> {
  const invalid = configProblem(host);
  if (invalid) throw invalid;
  const timeoutMs =
    host.connectTimeoutSec !== undefined ? host.connectTimeoutSec * 1000 : deps.connectTimeoutMs;
  const attempt = new DialAttempt();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const hint =
        host.connectTimeoutSec !== undefined
          ? `Check that the host is up and reachable, or raise ConnectTimeout for ${host.alias} in your ssh config`
          : "Check that the host is up and reachable, or raise SCOUT_CONNECT_TIMEOUT";
      const stderr = attempt.proxies.map((p) => p.stderrText()).find((t) => t !== "");
      reject(
        new ScoutError(
          "connect-timeout",
          `Connection to ${host.alias} (${host.hostname}:${host.port}) timed out after ${timeoutMs / 1000} s${stderr ? `; ProxyCommand said: ${stderr}` : ""}`,
          { hint },
        ),
      );
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([dialChain(host, deps, attempt), timeout]);
  } catch (e) {
    attempt.abort();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

async function dialChain(host: HostConfig, deps: DialDeps, attempt: DialAttempt): Promise<Route> {
  const chain = routeOf(host);
  const first = chain[0] as HostConfig;
  let sock: Duplex;
  if (first.proxyCommand !== undefined) {
    const proxy = spawnProxyCommand(first);
    attempt.proxies.push(proxy);
    sock = proxy.stream;
  } else {
    sock = await dialTcp(first, attempt);
  }
  for (let i = 0; i < chain.length; i++) {
    const hop = chain[i] as HostConfig;
    attempt.sockets.add(sock);
    const client = await handshake(hop, sock, deps, attempt);
    const next = chain[i + 1];
    if (next) sock = await forwardOut(client, next, hop);
  }
  const clients = attempt.clients;
  return new Route(clients[clients.length - 1] as Client, clients.slice(0, -1), attempt.proxies);
}

function dialTcp(hop: HostConfig, attempt: DialAttempt): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hop.hostname, port: hop.port });
    attempt.sockets.add(socket);
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

async function handshake(
  hop: HostConfig,
  sock: Duplex,
  deps: DialDeps,
  attempt: DialAttempt,
): Promise<Client> {
  const authHandler = await deps.authMethods(hop);
  const serverHostKey = await deps.hostKeyAlgorithms?.(hop);
  // The same walk through the list as ssh2's own array handler, but we learn which method got in.
  let nextMethod = 0;
  let lastMethod: AnyAuthMethod | undefined;
  const pickMethod: AuthHandlerMiddleware = () => (lastMethod = authHandler[nextMethod++]) ?? false;
  const client = new ssh2.Client();
  attempt.clients.push(client);
  let hostKeyError: unknown;
  const proxy = attempt.proxies.find((p) => p.stream === sock);
  // ServerAliveInterval 0 means off, as in ssh; unset: Scout's keepalive setting.
  const keepaliveInterval =
    hop.serverAliveIntervalSec !== undefined ? hop.serverAliveIntervalSec * 1000 : deps.keepaliveIntervalMs;
  return new Promise<Client>((resolve, reject) => {
    const fail = (err: Error & { level?: string }) => {
      client.removeAllListeners("ready");
      client.on("error", () => {});
      client.end();
      sock.destroy();
      if (hostKeyError) reject(hostKeyError);
      else if (proxy)
        void proxy.exitedWithin(500).then(() => reject(classifyHandshakeError(err, hop, authHandler, proxy)));
      else reject(classifyHandshakeError(err, hop, authHandler));
    };
    client.once("ready", () => {
      if (lastMethod) deps.onAuthenticated?.(hop, lastMethod);
      client.removeListener("error", fail);
      client.removeAllListeners("close");
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
      keepaliveInterval,
      keepaliveCountMax: hop.serverAliveCountMax ?? 3,
      authHandler: pickMethod,
      // The certificate algorithms are not in @types/ssh2's ServerHostKeyAlgorithm union.
      ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as ServerHostKeyAlgorithm[] } } : {}),
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        // Now, not once verified: ssh2 checks the exchange signature when the server's NEWKEYS
        // arrives, which may be before our verdict (a refused certificate ends the connection).
        acceptHostCertificate(client, key);
        deps.verifyHostKey(hop, key).then(
          () => verify(true),
          (e: unknown) => {
            hostKeyError = e;
            verify(false);
          },
        );
      },
    });
  });
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
