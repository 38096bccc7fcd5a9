/**
 * `scout-mcp [serve]`: build the app, start the chosen transport, and shut down gracefully on
 * SIGINT/SIGTERM (stop accepting, give in-flight calls a few seconds, close SSH).
 */
import type { Settings } from "../config/settings.js";
import { createApp, type ScoutApp } from "../app.js";
import { createMcpServer } from "../mcp/server.js";
import { createLogger, type Logger } from "../observe/log.js";
import { startHttpTransport, type HttpTransportHandle } from "../transport/http.js";
import { startStdioTransport } from "../transport/stdio.js";
import type { ResourceCatalog } from "../mcp/resources.js";
import { ScoutMetrics } from "../observe/metrics.js";
import { AuditLog } from "../guard/audit.js";
import { CallGuard } from "../guard/call-guard.js";
import { apiKeyOf, isLoopbackAddress, keyHash, makeHttpGate } from "../guard/http-gate.js";
import { createServer as createPlainHttpServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface RunningServer {
  app: ScoutApp;
  http?: HttpTransportHandle;
  /** Resolves once the server has stopped (stdio closed or shutdown finished). */
  done: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 3000;

export async function serve(
  settings: Settings,
  opts: { log?: Logger; installSignals?: boolean } = {},
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
  const hooks = guard.hooks();
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
  let metricsServer: ReturnType<typeof createPlainHttpServer> | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, "shutting down");
      const grace = new Promise<void>((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref());
      await Promise.race([http?.close() ?? Promise.resolve(), grace]);
      await app.close();
      await audit?.close();
      metricsServer?.close();
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
    const stdio = await startStdioTransport(mcp);
    void stdio.closed.then(() => shutdown("stdin closed"));
    if (settings.metricsPort !== undefined) {
      metricsServer = createPlainHttpServer((req, res) => {
        if (req.url?.startsWith("/metrics")) void serveMetrics(req, res);
        else res.writeHead(404).end();
      });
      await new Promise<void>((r) => metricsServer?.listen(settings.metricsPort, "127.0.0.1", () => r()));
      metricsServer.unref();
    }
    log.info({ hosts: app.registry.list().length }, "serving MCP on stdio");
  } else {
    http = await startHttpTransport({
      host: settings.httpHost,
      port: settings.httpPort,
      createMcpServer: ({ req }) => {
        const key = apiKeyOf(req);
        const client =
          key && settings.apiKeys.length > 0
            ? `key:${keyHash(key)}`
            : `ip:${req.socket.remoteAddress ?? "?"}`;
        const { mcp, catalog } = createMcpServer(app, {
          transport: "http",
          client,
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
      healthDetails: () => ({
        status: "ok",
        version: app.version,
        uptimeSeconds: Math.round((Date.now() - app.startedAt) / 1000),
        pool: app.fleet.stats(),
        sessions: http?.sessions() ?? 0,
        inFlight: guard.limiter.active,
        queued: guard.limiter.waiting,
      }),
      log: (level, msg, extra) => log[level](extra ?? {}, msg),
    });
    log.info({ url: http.url, hosts: app.registry.list().length }, "serving MCP over Streamable HTTP");
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
