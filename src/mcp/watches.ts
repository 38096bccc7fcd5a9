/**
 * Watched files: each subscribed `scout://host/path` is a polling watch (src/ops/watch.ts) whose
 * events become `notifications/resources/updated`. Two ways in, one set of caps: 2025-era
 * `resources/subscribe` (watches per session) and 2026-07-28 `subscriptions/listen` (watches per
 * listen stream, see SharedWatches). Bounded: at most `maxPerClient` watches per client identity
 * (across its sessions and streams) and `maxTotal` for the whole server; a session's or stream's
 * watches stop when it closes, all of them at shutdown.
 */
import { ProtocolError, ProtocolErrorCode, type McpServer } from "@modelcontextprotocol/server";
import { ScoutError, isScoutError } from "../errors.js";
import type { Limits } from "../ops/limits.js";
import { statPath } from "../ops/read.js";
import { watchFile, type WatchBaseline, type WatchEvent } from "../ops/watch.js";
import type { HostAccess } from "../ssh/types.js";
import type { CallPipeline, CallSession } from "./calls.js";
import type { ScoutEngine } from "./mode.js";
import type { ResourceCatalog } from "./resources.js";

export interface WatchHubOptions {
  host(alias: string): HostAccess;
  limits: Limits;
  maxTotal: number;
  maxPerClient: number;
  /** Open listen streams per client (each holds an HTTP response open, as a session's GET stream does). */
  maxStreamsPerClient?: number;
  /** Poll pacing (tests make it quick). */
  minMs?: number;
  maxMs?: number;
}

export type WatchNotify = (uri: string, event: WatchEvent) => void;

/** A cap that refused a watch or a listen stream: which setting, and its value. */
export class WatchCapError extends ScoutError {
  constructor(
    readonly cap: "SCOUT_MAX_WATCHES_PER_CLIENT" | "SCOUT_MAX_WATCHES" | "SCOUT_MAX_SESSIONS_PER_CLIENT",
    readonly limit: number,
    message: string,
    hint: string,
  ) {
    super("refused", message, { hint });
  }
}

export class WatchHub {
  private total = 0;
  private readonly perClient = new Map<string, number>();
  private readonly sessions = new Set<SessionWatches>();
  private readonly groups = new Set<SharedWatches>();
  private readonly streamsPerClient = new Map<string, number>();
  private streams = 0;

  constructor(private readonly options: WatchHubOptions) {}

  /**
   * Watches for 2026-07-28 listen streams that share one delivery path (the HTTP handler's event
   * bus, or one stdio connection): `publish` reaches every stream that asked for the URI.
   */
  shared(publish: WatchNotify): SharedWatches {
    const g = new SharedWatches(this, publish);
    this.groups.add(g);
    return g;
  }

  /** Open listen streams (2026-07-28), with or without watches. */
  get listenStreams(): number {
    return this.streams;
  }

  /** The watches of one MCP session of `client`. */
  session(client: string, notify: WatchNotify): SessionWatches {
    const s = new SessionWatches(this, client, notify);
    this.sessions.add(s);
    return s;
  }

  get active(): number {
    return this.total;
  }

  /** Stops every watch (server shutdown). */
  close(): void {
    for (const s of [...this.sessions]) s.close();
    for (const g of [...this.groups]) g.close();
  }

  /**
   * @internal Reserves `n` slots for `client`, all or none, or says which cap is full and what to
   * do (`free`: how this client gives one back).
   */
  acquire(client: string, n = 1, free = "Unsubscribe from a resource first"): void {
    this.check(client, n, free);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + n);
    this.total += n;
  }

  /** Throws the WatchCapError that `acquire(client, n)` would throw now, without reserving. */
  check(client: string, n: number, free: string): void {
    const mine = this.perClient.get(client) ?? 0;
    const max = this.options.maxPerClient;
    if (n > 0 && mine + n > max) {
      throw new WatchCapError(
        "SCOUT_MAX_WATCHES_PER_CLIENT",
        max,
        `This client already watches ${mine} resources (SCOUT_MAX_WATCHES_PER_CLIENT)${n > 1 ? ` and asked for ${n} more` : ""}: the limit is ${max}`,
        free,
      );
    }
    if (n > 0 && this.total + n > this.options.maxTotal) {
      throw new WatchCapError(
        "SCOUT_MAX_WATCHES",
        this.options.maxTotal,
        `The server already runs ${this.total} watches (SCOUT_MAX_WATCHES)${n > 1 ? ` and this asked for ${n} more` : ""}: the limit is ${this.options.maxTotal}`,
        "Try again later, or ask the operator to raise SCOUT_MAX_WATCHES",
      );
    }
  }

  /** Throws if `client` may not open one more listen stream. */
  checkStream(client: string): void {
    const max = this.options.maxStreamsPerClient;
    const mine = this.streamsPerClient.get(client) ?? 0;
    if (max !== undefined && max > 0 && mine >= max) {
      throw new WatchCapError(
        "SCOUT_MAX_SESSIONS_PER_CLIENT",
        max,
        `This client already holds ${mine} open subscriptions/listen streams (SCOUT_MAX_SESSIONS_PER_CLIENT): the limit is ${max}`,
        "Close one of them first: one stream can carry every notification type and many resources",
      );
    }
  }

  /** @internal */
  release(client: string, n = 1): void {
    const mine = (this.perClient.get(client) ?? n) - n;
    if (mine <= 0) this.perClient.delete(client);
    else this.perClient.set(client, mine);
    this.total -= n;
  }

  /** @internal */
  forget(s: SessionWatches | SharedWatches): void {
    if (s instanceof SessionWatches) this.sessions.delete(s);
    else this.groups.delete(s);
  }

  /** @internal A listen stream of `client` opened (+1) or closed (-1). */
  countStream(client: string, delta: 1 | -1): void {
    this.streams += delta;
    const mine = (this.streamsPerClient.get(client) ?? 0) + delta;
    if (mine <= 0) this.streamsPerClient.delete(client);
    else this.streamsPerClient.set(client, mine);
  }

  /** @internal Starts one polling watch; it ends when `signal` aborts. */
  start(
    t: { host: string; path: string; initial?: WatchBaseline },
    signal: AbortSignal,
    onEvent: (e: WatchEvent) => void,
  ): void {
    void watchFile(this.options.host(t.host), t.path, this.options.limits, {
      signal,
      onEvent,
      ...(t.initial !== undefined ? { initial: t.initial } : {}),
      ...(this.options.minMs !== undefined ? { minMs: this.options.minMs } : {}),
      ...(this.options.maxMs !== undefined ? { maxMs: this.options.maxMs } : {}),
    });
  }
}

export class SessionWatches {
  private readonly watches = new Map<string, AbortController>();
  private closed = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly client: string,
    private readonly notify: WatchNotify,
  ) {}

  /** Subscribing twice to one URI is one watch (as the spec's subscriptions are per URI). */
  subscribe(uri: string, target: { host: string; path: string; initial?: WatchBaseline }): void {
    if (this.closed) throw new ScoutError("aborted", "The session is closing");
    if (this.watches.has(uri)) return;
    this.hub.acquire(this.client);
    const ac = new AbortController();
    this.watches.set(uri, ac);
    this.hub.start(target, ac.signal, (e) => {
      if (!ac.signal.aborted) this.notify(uri, e);
    });
  }

  unsubscribe(uri: string): void {
    const ac = this.watches.get(uri);
    if (!ac) return;
    ac.abort();
    this.watches.delete(uri);
    this.hub.release(this.client);
  }

  get size(): number {
    return this.watches.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const uri of [...this.watches.keys()]) this.unsubscribe(uri);
    this.hub.forget(this);
  }
}

/** A file to watch, as its URI names it (admitted: see admitWatch). */
export interface WatchTarget {
  uri: string;
  host: string;
  path: string;
  /** The file as the admission saw it: later changes are reported, even before the first poll. */
  initial?: WatchBaseline;
}

const LISTEN_FREE =
  "Close one of this client's listen streams (or its 2025-era subscriptions), or listen for fewer resources";

/**
 * The watches of 2026-07-28 listen streams on one delivery path. The path fans one notification out
 * to every stream whose filter names the URI, so a URI is polled once here however many streams ask
 * for it (a poll per stream would deliver each change once per stream to every one of them); each
 * stream still holds its own slots against the caps, as a 2025 session does.
 */
export class SharedWatches {
  private readonly polls = new Map<string, { refs: number; ac: AbortController }>();
  private readonly open = new Set<ListenWatches>();
  private closed = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly publish: WatchNotify,
  ) {}

  /**
   * One listen stream of `client` watching `targets` (each admitted already): it gets the slots for
   * all of them or for none (the cap error says which cap). Close it when the stream ends.
   */
  stream(client: string, targets: readonly WatchTarget[]): ListenWatches {
    if (this.closed) {
      throw new ScoutError("aborted", "Scout is shutting down", { hint: "Listen again once it is back" });
    }
    const unique = [...new Map(targets.map((t) => [t.uri, t])).values()];
    this.check(client, unique.length);
    if (unique.length > 0) this.hub.acquire(client, unique.length, LISTEN_FREE);
    for (const t of unique) this.retain(t);
    const s = new ListenWatches(
      this,
      client,
      unique.map((t) => t.uri),
    );
    this.open.add(s);
    this.hub.countStream(client, 1);
    return s;
  }

  /**
   * Throws the cap error that stream(client, n URIs) would throw now: checked before the URIs are
   * admitted, so a listen for more than the caps allow costs no SFTP round trip.
   */
  check(client: string, n: number): void {
    this.hub.checkStream(client);
    this.hub.check(client, n, LISTEN_FREE);
  }

  /** Files polled now (one per distinct URI of the open streams). */
  get polling(): number {
    return this.polls.size;
  }

  private retain(t: WatchTarget): void {
    const p = this.polls.get(t.uri);
    if (p) {
      p.refs++;
      return;
    }
    const ac = new AbortController();
    this.polls.set(t.uri, { refs: 1, ac });
    this.hub.start(t, ac.signal, (e) => {
      if (!ac.signal.aborted) this.publish(t.uri, e);
    });
  }

  /** @internal */
  end(s: ListenWatches): void {
    if (!this.open.delete(s)) return;
    this.hub.countStream(s.client, -1);
    for (const uri of s.uris) {
      const p = this.polls.get(uri);
      if (p && --p.refs === 0) {
        p.ac.abort();
        this.polls.delete(uri);
      }
    }
    if (s.uris.length > 0) this.hub.release(s.client, s.uris.length);
  }

  /** Ends every stream's watches (the connection or the server closes). */
  close(): void {
    this.closed = true;
    for (const s of [...this.open]) s.close();
    this.hub.forget(this);
  }
}

/** One listen stream's watches; close() gives its slots back and stops polls nobody else needs. */
export class ListenWatches {
  constructor(
    private readonly group: SharedWatches,
    readonly client: string,
    readonly uris: readonly string[],
  ) {}

  close(): void {
    this.group.end(this);
  }
}

/** What a `notifications/resources/updated` carries besides the URI (in `_meta`). */
export function eventMeta(e: WatchEvent): Record<string, unknown> {
  switch (e.kind) {
    case "appended":
      return {
        "scout/event": "appended",
        "scout/size": e.size,
        "scout/appendedBytes": e.bytes,
        "scout/appended": e.text,
        ...(e.truncated ? { "scout/truncated": true } : {}),
      };
    case "changed":
      return { "scout/event": "changed", "scout/size": e.size, "scout/mtime": e.mtime.toISOString() };
    case "deleted":
      return { "scout/event": "deleted" };
    case "error":
      return { "scout/event": "error", "scout/error": e.message };
  }
}

export interface AdmitDeps {
  catalog: Pick<ResourceCatalog, "fileTarget">;
  pipeline: CallPipeline;
  engine: Pick<ScoutEngine, "fleet">;
}

/**
 * Whether `session` may watch `uri`: admitted like a resource read (rate limit, path policy,
 * audit), with one stat that must reach the host (a file that does not exist yet is fine: its
 * creation is reported). Throws a ScoutError saying why not.
 */
export async function admitWatch(
  d: AdmitDeps,
  uri: string,
  session: CallSession,
  signal: AbortSignal,
): Promise<WatchTarget> {
  const target = d.catalog.fileTarget(uri);
  const initial = await d.pipeline.resource(
    { uri, host: target.host, target: () => target },
    session,
    signal,
    async (s): Promise<WatchBaseline> => {
      try {
        const st = await statPath(d.engine.fleet.host(target.host), target.path, s);
        return { size: st.size, mtime: st.mtime.getTime() };
      } catch (e) {
        if (isScoutError(e, "not-found")) return "missing";
        throw e;
      }
    },
  );
  return { uri, ...target, initial };
}

export interface SubscriptionDeps extends AdmitDeps {
  mcp: McpServer;
  session: CallSession;
  hub: WatchHub;
}

/**
 * resources/subscribe and resources/unsubscribe for one 2025-era session, each subscription
 * admitted by admitWatch. Returns the session's watches, to be closed with the session.
 */
export function installSubscriptions(d: SubscriptionDeps): SessionWatches {
  const watches = d.hub.session(d.session.client, (uri, e) => {
    if (!d.mcp.isConnected()) return;
    void d.mcp.server.sendResourceUpdated({ uri, _meta: eventMeta(e) }).catch(() => {});
  });
  const server = d.mcp.server;
  server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  const asMcp = (e: unknown) =>
    e instanceof ScoutError ? new ProtocolError(ProtocolErrorCode.InvalidParams, `Error: ${e.userText}`) : e;
  server.setRequestHandler("resources/subscribe", async (req, ctx) => {
    const uri = req.params.uri;
    try {
      const target = await admitWatch(d, uri, d.session, ctx.mcpReq.signal);
      watches.subscribe(uri, target);
      return {};
    } catch (e) {
      throw asMcp(e);
    }
  });
  server.setRequestHandler("resources/unsubscribe", (req) => {
    watches.unsubscribe(req.params.uri);
    return {};
  });
  return watches;
}
