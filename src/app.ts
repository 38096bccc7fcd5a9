/**
 * The composition root, the one place that wires the layers together: settings → host registry →
 * SSH fleet → status cache (the engine), the policy, metrics and audit log, the call pipeline
 * (built once), and the transport with one MCP server per session. Every other module receives
 * what it needs and never builds its peers; the CLI only calls startScout().
 */
import type { Settings } from "./config/settings.js";
import { HostRegistry } from "./config/registry.js";
import { createConnectionDeps } from "./ssh/trust.js";
import { Fleet, type FleetObserver } from "./ssh/fleet.js";
import { HostStatusCache } from "./ops/status.js";
import { limitsFrom, type Limits } from "./ops/limits.js";
import type { Logger } from "./observe/log.js";
import { VERSION } from "./version.js";
import { Policy } from "./guard/policy.js";
import type { ScoutEngine } from "./mcp/mode.js";
import { WatchHub, eventMeta } from "./mcp/watches.js";
import { asListenRequest, openListen } from "./mcp/listen.js";
import { createMcpServer, type Era } from "./mcp/server.js";
import { TaskHub } from "./mcp/tasks.js";
import {
  createMcpHandler,
  type AuthInfo,
  type McpHttpHandler,
  type McpServer,
} from "@modelcontextprotocol/server";
import { toNodeHandler } from "@modelcontextprotocol/node";
import type { ResourceCatalog } from "./mcp/resources.js";
import { createLogger } from "./observe/log.js";
import { startHttpTransport, type HttpTransportHandle } from "./transport/http.js";
import { startStdioTransport, type StdioHandle } from "./transport/stdio.js";
import { ScoutMetrics } from "./observe/metrics.js";
import { AuditLog } from "./guard/audit.js";
import { Pipeline } from "./guard/pipeline.js";
import { apiKeyOf, isLoopbackAddress, keyHash, makeHttpGate } from "./guard/http-gate.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { startMetricsEndpoint, type MetricsEndpoint } from "./observe/metrics-http.js";
import { compileHostPattern } from "./config/host-patterns.js";

export interface ScoutApp extends ScoutEngine {
  readonly settings: Settings;
  readonly registry: HostRegistry;
  readonly fleet: Fleet;
  readonly status: HostStatusCache;
  readonly limits: Limits;
  readonly policy: Policy;
  readonly log: Logger;
  readonly version: string;
  readonly startedAt: number;
  close(): Promise<void>;
}

export interface AppOptions {
  log: Logger;
  /** Watch the ssh config for changes (default true). */
  watch?: boolean;
  fleetObserver?: FleetObserver;
}

export async function createApp(settings: Settings, options: AppOptions): Promise<ScoutApp> {
  const log = options.log;
  const policy = settings.policyFile ? await Policy.load(settings.policyFile) : Policy.empty();
  const registry = await HostRegistry.open(settings, {
    watch: options.watch ?? true,
    log: (level, msg) => log[level]({ component: "config" }, msg),
  });
  const connectionDeps = await createConnectionDeps(settings, (msg) =>
    log.warn({ component: "hostkey" }, msg),
  );
  const fleet = new Fleet({
    settings,
    lookupHost: (alias) => registry.require(alias),
    connectionDeps,
    ...(options.fleetObserver ? { observer: options.fleetObserver } : {}),
  });
  const status = new HostStatusCache({
    ttlMs: settings.statusCacheTtlMs,
    isConnected: (alias) => fleet.isConnected(alias),
  });
  registry.on("change", () => status.invalidate());
  if (settings.warmHosts.length > 0) {
    // Compiled now so that a bad SCOUT_WARM_HOSTS (an unknown @group) stops the start-up.
    const isWarm = compileHostPattern(settings.warmHosts.join(","), settings.hostGroups);
    const warm = () => {
      const { warm: n, fit } = fleet.warm(registry.list().flatMap((h) => (isWarm(h.alias) ? [h.alias] : [])));
      log.info({ component: "pool" }, `keeping ${n} hosts warm (SCOUT_WARM_HOSTS)`);
      if (fit < n) {
        log.warn(
          { component: "pool" },
          `SCOUT_WARM_HOSTS matches ${n} hosts but SCOUT_MAX_POOL_SIZE is ${fit}: only ${fit} can be warm at once`,
        );
      }
    };
    warm();
    registry.on("change", warm);
  }
  return {
    settings,
    registry,
    fleet,
    status,
    limits: limitsFrom(settings),
    policy,
    log,
    version: VERSION,
    startedAt: Date.now(),
    close: async () => {
      registry.close();
      await fleet.close();
    },
  };
}

export interface RunningServer {
  app: ScoutApp;
  http?: HttpTransportHandle;
  /** Resolves once the server has stopped (stdio closed or shutdown finished). */
  done: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 3000;
/** Extra time, after the grace, for the kills of cancelled commands to reach their hosts. */
const KILL_GRACE_MS = 2000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Resolves once every response in `open` has closed (they remove themselves). */
async function untilClosed(open: Set<ServerResponse>): Promise<void> {
  while (open.size > 0) await sleep(10);
}

/** Waits until no SSH channel is busy, e.g. the kills of cancelled commands' process groups. */
async function waitUntilQuiet(app: ScoutApp, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  const busy = () => app.fleet.stats().hosts.some((h) => h.idle < h.connections || h.connecting > 0);
  while (busy() && performance.now() < deadline) await sleep(20);
}

export async function startScout(
  settings: Settings,
  opts: {
    log?: Logger;
    installSignals?: boolean;
    /** HTTP: print the MCP URL on stdout (the CLI), so `--port 0` is usable at any log level. */
    announce?: boolean;
  } = {},
): Promise<RunningServer> {
  const log = opts.log ?? createLogger({ level: settings.logLevel });
  // The metrics registry exists before the app (the fleet reports into it) and reads the app's
  // pool state once it exists.
  const built: { app?: ScoutApp } = {};
  const metrics = new ScoutMetrics({
    fleetStats: () =>
      built.app?.fleet.stats() ?? {
        open: 0,
        maxPoolSize: settings.maxPoolSize,
        waitingForSlot: 0,
        hosts: [],
      },
  });
  const app = await createApp(settings, { log, fleetObserver: metrics.fleetObserver() });
  built.app = app;
  const audit = settings.auditLog ? await AuditLog.open(settings.auditLog, log) : undefined;
  // The one call pipeline every session hands its tool calls and resource reads to.
  const pipeline = new Pipeline({
    engine: app,
    settings,
    policy: app.policy,
    log,
    metrics,
    ...(audit ? { audit } : {}),
  });
  // MCP tasks: job tasks live on the hosts; in-process ones (transfers, reads) in this one hub.
  const tasks = new TaskHub({ pipeline, settings });
  const serveMetrics = async (_req: IncomingMessage, res: ServerResponse) => {
    const known = new Set(app.registry.list().map((h) => h.alias));
    metrics.setHostStatus(
      app.status.snapshot().map((s) => [s.alias, s.online] as [string, boolean]),
      known,
    );
    const { contentType, body } = await metrics.render();
    res.writeHead(200, { "content-type": contentType }).end(body);
  };
  const catalogs = new Set<ResourceCatalog>();
  // Watched files: one hub (global and per-client caps) for 2025 sessions' resources/subscribe and
  // 2026-07-28 listen streams alike.
  const watchHub = new WatchHub({
    host: (alias) => app.fleet.host(alias),
    limits: app.limits,
    maxTotal: settings.maxWatches,
    maxPerClient: settings.maxWatchesPerClient,
    maxStreamsPerClient: settings.maxSessionsPerClient,
  });
  metrics.observeWatches(() => ({ watches: watchHub.active, listenStreams: watchHub.listenStreams }));
  // A never-connected server whose catalog names the files a listen may watch and tells when the
  // listed hosts changed (2026-07-28 HTTP has no long-lived server of its own to ask).
  const probe = createMcpServer(app, {
    transport: settings.transport,
    client: "listen",
    pipeline,
    era: "modern",
  });
  const listenDeps = { catalog: probe.catalog, pipeline, engine: app };
  let modern: McpHttpHandler | undefined;
  app.registry.on("change", () => {
    for (const c of catalogs) c.sync();
    // One list_changed per change, on every listen stream that asked for it (HTTP; on stdio the
    // pinned server's catalog above sends it through the SDK's listen router).
    if (probe.catalog.sync()) modern?.notify.resourcesChanged();
  });

  let http: HttpTransportHandle | undefined;
  let stdio: StdioHandle | undefined;
  /** 2026-07-28 HTTP listen streams still open (their responses), for a shutdown that waits for them. */
  const listenResponses = new Set<ServerResponse>();
  /** `GET /health?verbose=1`: on the HTTP transport, and on SCOUT_METRICS_PORT with stdio. */
  const healthDetails = () => ({
    status: "ok",
    version: app.version,
    uptimeSeconds: Math.round((Date.now() - app.startedAt) / 1000),
    pool: app.fleet.stats(),
    // Undefined (no refused edit) is left out of the JSON.
    configProblem: app.registry.configProblem(),
    sessions: http?.sessions() ?? (settings.transport === "stdio" ? 1 : 0),
    inFlight: pipeline.limiter.active,
    queued: pipeline.limiter.waiting,
    watches: watchHub.active,
    listenStreams: watchHub.listenStreams,
  });
  let metricsServer: MetricsEndpoint | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, "shutting down");
      const deadline = performance.now() + SHUTDOWN_GRACE_MS;
      const remaining = () => Math.max(0, deadline - performance.now());
      // 1. No new work; 2. calls in flight are cancelled (their remote processes killed) and their
      // error results still reach the clients; 3. then sessions and SSH close.
      http?.stopAccepting();
      watchHub.close();
      await pipeline.cancelAll(remaining());
      await waitUntilQuiet(app, remaining() + KILL_GRACE_MS);
      // Listen streams end gracefully (the SDK writes their SubscriptionsListenResult) before the
      // connections are dropped.
      await Promise.race([
        (async () => {
          await stdio?.close();
          await modern?.close();
          await untilClosed(listenResponses);
          await http?.close();
        })(),
        sleep(remaining()),
      ]);
      await app.close();
      await audit?.close();
      await metricsServer?.close();
      log.info("stopped");
      log.flush?.();
      resolveDone();
    })();
    return stopping;
  };

  if (settings.transport === "stdio") {
    // The connection's 2026-07-28 listen streams share one delivery path, the pinned server: the
    // SDK's listen router fans its resources/updated out to the streams that asked for the URI.
    let pinned: McpServer | undefined;
    const stdioWatches = watchHub.shared((uri, e) => {
      if (pinned?.isConnected()) {
        void pinned.server.sendResourceUpdated({ uri, _meta: eventMeta(e) }).catch(() => {});
      }
    });
    const stdioSession = { transport: "stdio" as const, client: "stdio" };
    const admitting = new AbortController();
    // One server for the connection, in the era its opening message chose.
    const stdioServer = (era: Era) => {
      const { mcp, catalog } = createMcpServer(app, {
        transport: "stdio",
        client: "stdio",
        pipeline,
        tasks,
        readOnly: settings.readOnly,
        era,
        watches: watchHub,
      });
      catalogs.add(catalog);
      if (era === "modern") pinned = mcp;
      return mcp;
    };
    // Metrics first: a port already in use must fail the start, not a running session.
    if (settings.metricsPort !== undefined) {
      metricsServer = await startMetricsEndpoint({
        port: settings.metricsPort,
        serveMetrics,
        healthDetails,
        onError: (e) => log.error({ error: String(e) }, "GET /metrics failed"),
      }).catch(async (e: unknown) => {
        await app.close();
        await audit?.close();
        throw e;
      });
    }
    stdio = await startStdioTransport(stdioServer, {
      onError: (e) => log.warn({ error: e.message }, "stdio protocol error"),
      listen: (req) =>
        openListen({ ...listenDeps, watches: stdioWatches }, req, stdioSession, admitting.signal),
    });
    void stdio.closed.then(() => {
      admitting.abort();
      stdioWatches.close();
      return shutdown("stdin closed");
    });
    log.info(
      { hosts: app.registry.list().length, ...(metricsServer ? { metrics: metricsServer.url } : {}) },
      "serving MCP on stdio",
    );
  } else {
    // 2026-07-28: stateless, one server per request from the same factory (legacy traffic never
    // reaches it: Scout's own session transport keeps serving 2025-era clients).
    modern = createMcpHandler(
      ({ authInfo }) =>
        createMcpServer(app, {
          transport: "http",
          client: authInfo?.clientId ?? "unknown",
          pipeline,
          tasks,
          readOnly: settings.readOnly,
          era: "modern",
          watches: watchHub, // advertises resources.subscribe: the listen router then honors resourceSubscriptions
        }).mcp,
      {
        legacy: "reject",
        responseMode: settings.httpJsonResponse ? "json" : "auto",
        onerror: (e) => log.debug({ error: e.message }, "modern MCP request refused"),
      },
    );
    const modernNode = toNodeHandler(modern);
    // Listen streams share the handler's event bus: each watched URI is polled once and published
    // there, and the SDK's listen router delivers it to every stream whose filter names it.
    const bus = modern.bus;
    const httpWatches = watchHub.shared((uri, e) =>
      bus.publish({ kind: "resource_updated", uri, params: { _meta: eventMeta(e) } }),
    );
    const clientOf = (req: IncomingMessage): string => {
      const key = apiKeyOf(req);
      return key && settings.apiKeys.length > 0
        ? `key:${keyHash(key)}`
        : `ip:${req.socket.remoteAddress ?? "?"}`;
    };
    http = await startHttpTransport({
      host: settings.httpHost,
      port: settings.httpPort,
      clientOf,
      sessionIdleTimeoutMs: settings.sessionIdleTimeoutMs,
      maxSessionsPerClient: settings.maxSessionsPerClient,
      serveModern: async (req, res, body, client) => {
        // The handler hands `req.auth` to the factory: Scout's client identity rides there.
        (req as IncomingMessage & { auth?: AuthInfo }).auth = { token: "", clientId: client, scopes: [] };
        const listen = asListenRequest(body);
        if (listen) {
          // Scout admits the watched files and takes the caps' slots; the SDK then acknowledges
          // and serves the stream. Its watches stop when the response ends, however it ends.
          const gone = new AbortController();
          res.once("close", () => gone.abort());
          const opened = await openListen(
            { ...listenDeps, watches: httpWatches },
            listen,
            { transport: "http", client },
            gone.signal,
          );
          if (!opened.ok) {
            if (!res.headersSent) res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify(opened.error));
            return;
          }
          listenResponses.add(res);
          const end = () => {
            opened.stream.close();
            listenResponses.delete(res);
          };
          if (gone.signal.aborted) return end();
          res.once("close", end);
        }
        return modernNode(req, res, body);
      },
      createMcpServer: ({ req }) => {
        const { mcp, catalog, watches } = createMcpServer(app, {
          transport: "http",
          client: clientOf(req),
          pipeline,
          tasks,
          readOnly: settings.readOnly,
          watches: watchHub,
        });
        catalogs.add(catalog);
        mcp.server.onclose = () => {
          catalogs.delete(catalog);
          watches?.close(); // a session's watches stop with it
        };
        return mcp;
      },
      jsonResponse: settings.httpJsonResponse,
      routes: { "/metrics": serveMetrics },
      gate: makeHttpGate({
        apiKeys: settings.apiKeys,
        allowedOrigins: settings.allowedOrigins,
        bindHost: settings.httpHost,
        onReject: (reason, detail) => {
          metrics.rejected.inc({ reason });
          log.warn({ reason, detail }, "HTTP request refused");
        },
      }),
      healthDetails,
      log: (level, msg, extra) => log[level](extra ?? {}, msg),
    });
    log.info({ url: http.url, hosts: app.registry.list().length }, "serving MCP over Streamable HTTP");
    if (opts.announce) process.stdout.write(`scout-mcp: serving MCP at ${http.url}\n`);
    if (!isLoopbackAddress(settings.httpHost) && settings.apiKeys.length === 0) {
      log.warn(
        { host: settings.httpHost },
        "WARNING: HTTP is bound to a non-loopback address WITHOUT API keys: anyone who can reach this port can run commands on your hosts. Set SCOUT_API_KEYS.",
      );
      process.stderr.write(
        `\n*** scout-mcp WARNING: listening on ${settings.httpHost} without SCOUT_API_KEYS: anyone who can reach it can run commands on your hosts ***\n\n`,
      );
    }
  }

  if (opts.installSignals ?? true) {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      process.once(sig, () => {
        void shutdown(sig).then(() => process.exit(0));
      });
    }
  }
  return { app, ...(http ? { http } : {}), done, shutdown };
}
