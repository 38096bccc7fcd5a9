/**
 * A userland TCP proxy for fault injection in tests and benchmarks: added latency, blackholed
 * hosts, refused connections and cut links. The kernel here has no netem, so this is how the lab
 * fleet simulates a bad network.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { performance } from "node:perf_hooks";

export interface FaultProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** One-way delay added in EACH direction (a round trip gets 2 × latencyMs). */
  latencyMs?: number;
}

/** Stop reading from a side once this much delayed data is queued for the other side. */
const QUEUE_HIGH_WATER = 4 * 1024 * 1024;

interface Delayed {
  at: number;
  chunk: Buffer;
}

/**
 * One direction of a proxied connection. Every chunk is stamped on arrival and delivered
 * latencyMs later (not cumulatively); a FIFO keeps byte order even if latency is lowered mid-way.
 */
class DelayedPipe {
  /** Pending chunks are queue[head…]; a head index keeps dequeueing O(1) for many small chunks. */
  private queue: Delayed[] = [];
  private head = 0;
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private srcEnded = false;
  private paused = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly latency: () => number,
  ) {
    src.on("data", (chunk: Buffer) => {
      if (!this.dst.destroyed) this.onData(chunk);
    });
    src.on("end", () => {
      this.srcEnded = true;
      this.maybeEnd();
    });
    dst.on("drain", () => this.updateFlow());
  }

  private onData(chunk: Buffer): void {
    const latency = this.latency();
    if (latency <= 0 && this.pending === 0) {
      this.dst.write(chunk);
    } else {
      this.queue.push({ at: performance.now() + latency, chunk });
      this.queuedBytes += chunk.length;
      this.schedule();
    }
    this.updateFlow();
  }

  private get pending(): number {
    return this.queue.length - this.head;
  }

  private schedule(): void {
    if (this.timer || this.pending === 0) return;
    const wait = Math.max(0, Math.ceil(this.queue[this.head]!.at - performance.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
    // Live sockets keep the process alive; a pending delivery on its own must not.
    this.timer.unref();
  }

  private flush(): void {
    const now = performance.now();
    // Timers may fire a fraction of a millisecond early; never deliver before the due time.
    while (this.pending > 0 && this.queue[this.head]!.at <= now) {
      const { chunk } = this.queue[this.head++]!;
      this.queuedBytes -= chunk.length;
      if (!this.dst.destroyed) this.dst.write(chunk);
    }
    if (this.pending === 0) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.schedule();
    this.updateFlow();
    this.maybeEnd();
  }

  /** Backpressure: pause the reader while too much is queued or the writer needs a drain. */
  private updateFlow(): void {
    const shouldPause = this.queuedBytes > QUEUE_HIGH_WATER || this.dst.writableNeedDrain;
    if (shouldPause && !this.paused) {
      this.paused = true;
      this.src.pause();
    } else if (!shouldPause && this.paused) {
      this.paused = false;
      this.src.resume();
    }
  }

  /** Forward a FIN only after everything before it has been delivered. */
  private maybeEnd(): void {
    if (this.srcEnded && this.pending === 0 && !this.dst.destroyed && !this.dst.writableEnded) this.dst.end();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }
}

interface ProxiedConnection {
  client: net.Socket;
  upstream: net.Socket | undefined;
  pipes: DelayedPipe[];
}

/** Lowest port the kernel hands out for outgoing connections (and for listen(0)). */
let ephemeralLow: number | undefined;

function ephemeralRangeLow(): number {
  if (ephemeralLow === undefined) {
    try {
      ephemeralLow = Number(
        readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
      );
    } catch {
      ephemeralLow = 32768; // not Linux; below macOS's and the IANA ephemeral range too
    }
    if (!Number.isInteger(ephemeralLow)) ephemeralLow = 32768;
  }
  return ephemeralLow;
}

/**
 * Candidate ports for lab listeners, drawn from BELOW the ephemeral range: the kernel never picks
 * those as the local port of an outgoing connection, so a listener that is stopped and restarted
 * (sshd restart, a refusing proxy) can always bind its port again. Ends with 0 (any free port).
 */
function* candidatePorts(attempts = 40): Generator<number> {
  const low = ephemeralRangeLow();
  if (low > 11_000) {
    for (let i = 0; i < attempts; i++) yield 10_000 + Math.floor(Math.random() * (low - 10_000));
  }
  yield 0;
}

function listenOn(server: net.Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      server.off("listening", onListening);
      reject(err);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host: "127.0.0.1", port, exclusive: true });
  });
}

function isAddrInUse(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "EADDRINUSE" || code === "EACCES";
}

/** Binds `server` on 127.0.0.1 at a free port outside the ephemeral range; returns the port. */
export async function listenOnFreePort(server: net.Server): Promise<number> {
  let lastError: unknown;
  for (const port of candidatePorts()) {
    try {
      await listenOn(server, port);
      return (server.address() as net.AddressInfo).port;
    } catch (err) {
      if (!isAddrInUse(err)) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

/**
 * A port on 127.0.0.1 that was free a moment ago (outside the ephemeral range). Someone else can
 * take it before you bind it, so callers must retry on EADDRINUSE.
 */
export async function findFreePort(): Promise<number> {
  const probe = net.createServer();
  const port = await listenOnFreePort(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export class FaultProxy {
  /** One-way delay in ms added in each direction; applies to chunks arriving after the change. */
  latencyMs: number;
  /** When true, NEW connections are accepted but never forwarded or answered (a host that doesn't answer). */
  blackhole = false;

  private acceptedCount = 0;
  private openCount = 0;
  private maxOpenCount = 0;
  private refusing = false;
  private relisten: Promise<void> | undefined;
  private relistenError: unknown;
  private readonly connections = new Set<ProxiedConnection>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly targetHost: string,
    private readonly targetPort: number,
    latencyMs: number,
  ) {
    this.latencyMs = latencyMs;
    server.on("connection", (socket) => this.onConnection(socket));
    // Accept errors (EMFILE…) must not crash the test process; the client just sees a failure.
    server.on("error", () => {});
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    // allowHalfOpen: a FIN must be forwarded only after the delayed data before it.
    const server = net.createServer({ allowHalfOpen: true });
    const port = await listenOnFreePort(server);
    // A forgotten proxy must not keep the test process alive.
    server.unref();
    return new FaultProxy(
      server,
      port,
      options.targetHost ?? "127.0.0.1",
      options.targetPort,
      options.latencyMs ?? 0,
    );
  }

  /**
   * When true, new connections are refused the way a host with nothing on the port refuses them
   * (the client gets ECONNREFUSED): the listening socket is closed, and bound again on the same
   * port when set back to false. Live connections are not affected.
   */
  get refuse(): boolean {
    return this.refusing;
  }

  set refuse(value: boolean) {
    if (value === this.refusing || this.closing) return;
    this.refusing = value;
    if (value) {
      // Closing the listening handle is synchronous, so the very next connect is refused.
      this.server.close();
    } else {
      this.relisten = this.listenAgain().catch((err: unknown) => {
        this.relistenError = err;
      });
    }
  }

  /** Resolves once a `refuse = false` has taken effect (the port accepts again). */
  async ready(): Promise<void> {
    await this.relisten;
    if (this.relistenError) throw this.relistenError;
  }

  private async listenAgain(): Promise<void> {
    // The port is below the ephemeral range, so nothing but another listener can hold it; retry
    // briefly in case one grabbed it in between.
    for (let attempt = 0; ; attempt++) {
      if (this.refusing || this.closing) return;
      try {
        await listenOn(this.server, this.port);
        // Flipped back to refusing while the bind was in flight.
        if (this.refusing || this.closing) this.server.close();
        return;
      } catch (err) {
        if (!isAddrInUse(err) || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Connections accepted (and then forwarded or blackholed) since start or resetCounters(). */
  get accepted(): number {
    return this.acceptedCount;
  }

  /** Client connections currently open (blackholed ones included). */
  get open(): number {
    return this.openCount;
  }

  /** High-water mark of `open` since start or resetCounters(). */
  get maxOpen(): number {
    return this.maxOpenCount;
  }

  resetCounters(): void {
    this.acceptedCount = 0;
    this.maxOpenCount = this.openCount;
  }

  /**
   * Destroy every live connection on both sides, as if the link were cut. "reset" (default) sends
   * an RST so the client sees ECONNRESET; "close" sends a FIN so it sees an orderly end.
   */
  cutAll(how: "reset" | "close" = "reset"): void {
    for (const conn of [...this.connections]) this.teardown(conn, how);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.relisten;
      // Stop listening first, then cut: server.close() only calls back once no connection is left.
      const closed = this.server.listening
        ? new Promise<void>((resolve) => this.server.close(() => resolve()))
        : Promise.resolve();
      this.cutAll("close");
      await closed;
    })();
    return this.closing;
  }

  private onConnection(client: net.Socket): void {
    if (this.closing) {
      client.destroy();
      return;
    }
    this.acceptedCount++;
    client.setNoDelay(true);
    const conn: ProxiedConnection = { client, upstream: undefined, pipes: [] };
    this.connections.add(conn);
    this.openCount++;
    this.maxOpenCount = Math.max(this.maxOpenCount, this.openCount);
    client.on("error", () => this.teardown(conn, "reset"));
    client.on("close", () => {
      // After an orderly client close the other direction may still hold delayed data (and the
      // FIN after it) for the target; the pair is torn down once the target has closed too.
      if (!conn.upstream || conn.upstream.destroyed) this.teardown(conn, "close");
    });

    if (this.blackhole) {
      // Swallow whatever the client sends; never answer.
      client.on("data", () => {});
      client.on("end", () => {});
      return;
    }

    const upstream = net.connect({ host: this.targetHost, port: this.targetPort, allowHalfOpen: true });
    upstream.setNoDelay(true);
    conn.upstream = upstream;
    // Writes to a connecting socket are buffered by Node, so both pipes can start right away.
    const latency = () => this.latencyMs;
    conn.pipes.push(new DelayedPipe(client, upstream, latency), new DelayedPipe(upstream, client, latency));
    // An unreachable target or a reset upstream resets the client too.
    upstream.on("error", () => this.teardown(conn, "reset"));
    upstream.on("close", () => {
      // An orderly upstream close is forwarded by the pipes (FIN after the delayed data);
      // only tear down here if the client side is already gone.
      if (client.destroyed) this.teardown(conn, "close");
    });
  }

  private teardown(conn: ProxiedConnection, how: "reset" | "close"): void {
    if (!this.connections.delete(conn)) {
      return;
    }
    this.openCount--;
    for (const pipe of conn.pipes) pipe.dispose();
    for (const socket of [conn.client, conn.upstream]) {
      if (!socket || socket.destroyed) continue;
      // resetAndDestroy() needs a connected handle; fall back to destroy() otherwise.
      if (how === "reset" && !socket.connecting) socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}
