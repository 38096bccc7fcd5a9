/**
 * Resource subscriptions (`resources/subscribe`, 2025 era): each subscribed `scout://host/path`
 * is a polling watch (src/ops/watch.ts) whose events become `notifications/resources/updated`.
 * Bounded: at most `maxPerClient` watches per client identity (across its sessions) and `maxTotal`
 * for the whole server; a session's watches stop when it closes, all of them at shutdown.
 */
import { ProtocolError, ProtocolErrorCode, type McpServer } from "@modelcontextprotocol/server";
import { ScoutError, isScoutError } from "../errors.js";
import type { Limits } from "../ops/limits.js";
import { statPath } from "../ops/read.js";
import { watchFile, type WatchEvent } from "../ops/watch.js";
import type { HostAccess } from "../ssh/types.js";
import type { CallPipeline, CallSession } from "./calls.js";
import type { ScoutEngine } from "./mode.js";
import type { ResourceCatalog } from "./resources.js";

export interface WatchHubOptions {
  host(alias: string): HostAccess;
  limits: Limits;
  maxTotal: number;
  maxPerClient: number;
  /** Poll pacing (tests make it quick). */
  minMs?: number;
  maxMs?: number;
}

export type WatchNotify = (uri: string, event: WatchEvent) => void;

export class WatchHub {
  private total = 0;
  private readonly perClient = new Map<string, number>();
  private readonly sessions = new Set<SessionWatches>();

  constructor(private readonly options: WatchHubOptions) {}

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
  }

  /** @internal Reserves a slot for `client`, or says which cap is full. */
  acquire(client: string): void {
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.options.maxPerClient) {
      throw new ScoutError(
        "refused",
        `This client already watches ${mine} resources (SCOUT_MAX_WATCHES_PER_CLIENT)`,
        {
          hint: "Unsubscribe from a resource first",
        },
      );
    }
    if (this.total >= this.options.maxTotal) {
      throw new ScoutError("refused", `The server already runs ${this.total} watches (SCOUT_MAX_WATCHES)`, {
        hint: "Try again later, or ask the operator to raise SCOUT_MAX_WATCHES",
      });
    }
    this.perClient.set(client, mine + 1);
    this.total++;
  }

  /** @internal */
  release(client: string): void {
    const mine = (this.perClient.get(client) ?? 1) - 1;
    if (mine <= 0) this.perClient.delete(client);
    else this.perClient.set(client, mine);
    this.total--;
  }

  /** @internal */
  forget(s: SessionWatches): void {
    this.sessions.delete(s);
  }

  /** @internal Starts one polling watch; it ends when `signal` aborts. */
  start(host: string, path: string, signal: AbortSignal, onEvent: (e: WatchEvent) => void): void {
    void watchFile(this.options.host(host), path, this.options.limits, {
      signal,
      onEvent,
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
  subscribe(uri: string, target: { host: string; path: string }): void {
    if (this.closed) throw new ScoutError("aborted", "The session is closing");
    if (this.watches.has(uri)) return;
    this.hub.acquire(this.client);
    const ac = new AbortController();
    this.watches.set(uri, ac);
    this.hub.start(target.host, target.path, ac.signal, (e) => {
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

export interface SubscriptionDeps {
  mcp: McpServer;
  catalog: Pick<ResourceCatalog, "fileTarget">;
  pipeline: CallPipeline;
  session: CallSession;
  engine: Pick<ScoutEngine, "fleet">;
  hub: WatchHub;
}

/**
 * resources/subscribe and resources/unsubscribe for one session. A subscription is admitted like a
 * resource read (rate limit, path policy, audit) and starts with one stat that must reach the host
 * (a file that does not exist yet is fine: its creation is reported). Returns the session's
 * watches, to be closed with the session.
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
      const target = d.catalog.fileTarget(uri);
      await d.pipeline.resource(
        { uri, host: target.host, target: () => target },
        d.session,
        ctx.mcpReq.signal,
        (signal) =>
          statPath(d.engine.fleet.host(target.host), target.path, signal).catch((e: unknown) => {
            if (!isScoutError(e, "not-found")) throw e;
          }),
      );
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
