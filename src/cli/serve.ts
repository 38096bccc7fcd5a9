/**
 * `scout-mcp [serve]`: build the app, start the chosen transport, and shut down gracefully on
 * SIGINT/SIGTERM (stop accepting, give in-flight calls a few seconds, close SSH).
 */
import type { Settings } from "../config/settings.js";
import { createApp, type ScoutApp } from "../app.js";
import { createMcpServer, type ServerHooks } from "../mcp/server.js";
import { ScoutError } from "../errors.js";
import { setMaxListeners } from "node:events";
import { createLogger, type Logger } from "../observe/log.js";
import { startHttpTransport, type HttpTransportHandle } from "../transport/http.js";
import { startStdioTransport } from "../transport/stdio.js";
import type { ResourceCallInfo, ResourceCatalog } from "../mcp/resources.js";
import { ScoutMetrics } from "../observe/metrics.js";
import { AuditLog } from "../guard/audit.js";
import { CallGuard } from "../guard/call-guard.js";
import { apiKeyOf, isLoopbackAddress, keyHash, makeHttpGate } from "../guard/http-gate.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { startMetricsEndpoint, type MetricsEndpoint } from "../observe/metrics-http.js";

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

/**
 * Tracks tool calls and resource reads in flight so that a shutdown can cancel them all (with
 * "Scout is shutting down") and wait for their answers, instead of cutting the sessions under them.
 */
class CallDrain {
  private readonly stop = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  readonly hooks: ServerHooks;

  constructor(inner: ServerHooks) {
    const track = <T>(p: Promise<T>): Promise<T> => {
      this.inFlight.add(p);
      const forget = () => this.inFlight.delete(p);
      p.then(forget, forget);
      return p;
    };
    // One listener per call on the shared stop signal (removed when the call ends); a plain
    // controller rather than AbortSignal.any, whose result only weakly references its sources.
    setMaxListeners(0, this.stop.signal);
    const linked = <T>(signal: AbortSignal, run: (s: AbortSignal) => Promise<T>): Promise<T> => {
      const c = new AbortController();
      const onStop = () => c.abort(this.stop.signal.reason);
      const onCall = () => c.abort(signal.reason);
      if (this.stop.signal.aborted) onStop();
      else if (signal.aborted) onCall();
      this.stop.signal.addEventListener("abort", onStop, { once: true });
      signal.addEventListener("abort", onCall, { once: true });
      const p = run(c.signal);
      const cleanup = () => {
        this.stop.signal.removeEventListener("abort", onStop);
        signal.removeEventListener("abort", onCall);
      };
      p.then(cleanup, cleanup);
      return track(p);
    };
    const aroundTool = inner.aroundTool;
    const around = inner.around;
    this.hooks = {
      ...(aroundTool
        ? {
            aroundTool: (call, run) => linked(call.signal, (signal) => aroundTool({ ...call, signal }, run)),
          }
        : {}),
      ...(around
        ? {
            around: <T>(
              info: ResourceCallInfo,
              fn: (signal: AbortSignal) => Promise<T>,
              signal: AbortSignal,
            ) => linked(signal, (s) => around(info, fn, s)),
          }
        : {}),
    };
  }

  /** Cancels every call in flight (and any that still arrives) and waits up to `ms` for them. */
  async cancelAll(ms: number): Promise<void> {
    this.stop.abort(new ScoutError("aborted", "Scout is shutting down", { hint: "Retry the call later" }));
    await Promise.race([Promise.allSettled([...this.inFlight]), sleep(ms)]);
  }
}

/** Waits until no SSH channel is busy, e.g. the kills of cancelled commands' process groups. */
async function waitUntilQuiet(app: ScoutApp, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  const busy = () => app.fleet.stats().hosts.some((h) => h.idle < h.connections || h.connecting > 0);
  while (busy() && performance.now() < deadline) await sleep(20);
}

export async function serve(
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
  const guard = new CallGuard({ settings, log, metrics, ...(audit ? { audit } : {}) });
  const drain = new CallDrain(guard.hooks());
  const hooks = drain.hooks;
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
  app.registry.on("change", () => {
    for (const c of catalogs) c.sync();
  });

  let http: HttpTransportHandle | undefined;
  /** `GET /health?verbose=1`: on the HTTP transport, and on SCOUT_METRICS_PORT with stdio. */
  const healthDetails = () => ({
    status: "ok",
    version: app.version,
    uptimeSeconds: Math.round((Date.now() - app.startedAt) / 1000),
    pool: app.fleet.stats(),
    sessions: http?.sessions() ?? (settings.transport === "stdio" ? 1 : 0),
    inFlight: guard.limiter.active,
    queued: guard.limiter.waiting,
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
      await drain.cancelAll(remaining());
      await waitUntilQuiet(app, remaining() + KILL_GRACE_MS);
      await Promise.race([http?.close() ?? Promise.resolve(), sleep(remaining())]);
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
    const { mcp, catalog } = createMcpServer(app, {
      transport: "stdio",
      client: "stdio",
      hooks,
      readOnly: settings.readOnly,
    });
    catalogs.add(catalog);
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
    const stdio = await startStdioTransport(mcp);
    void stdio.closed.then(() => shutdown("stdin closed"));
    log.info(
      { hosts: app.registry.list().length, ...(metricsServer ? { metrics: metricsServer.url } : {}) },
      "serving MCP on stdio",
    );
  } else {
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
      createMcpServer: ({ req }) => {
        const { mcp, catalog } = createMcpServer(app, {
          transport: "http",
          client: clientOf(req),
          hooks,
          readOnly: settings.readOnly,
        });
        catalogs.add(catalog);
        mcp.server.onclose = () => catalogs.delete(catalog);
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
