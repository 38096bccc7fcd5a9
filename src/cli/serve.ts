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

export interface RunningServer {
  app: ScoutApp;
  http?: HttpTransportHandle;
  /** Resolves once the server has stopped (stdio closed or shutdown finished). */
  done: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 3000;

export async function serve(settings: Settings, opts: { log?: Logger; installSignals?: boolean } = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger({ level: settings.logLevel });
  const app = await createApp(settings, { log });
  const catalogs = new Set<ResourceCatalog>();
  app.registry.on("change", () => {
    for (const c of catalogs) c.sync();
  });

  let http: HttpTransportHandle | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, "shutting down");
      const grace = new Promise<void>((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref());
      await Promise.race([http?.close() ?? Promise.resolve(), grace]);
      await app.close();
      log.info("stopped");
      log.flush?.();
      resolveDone();
    })();
    return stopping;
  };

  if (settings.transport === "stdio") {
    const { mcp, catalog } = createMcpServer(app, { transport: "stdio", client: "stdio" });
    catalogs.add(catalog);
    const stdio = await startStdioTransport(mcp);
    void stdio.closed.then(() => shutdown("stdin closed"));
    log.info({ hosts: app.registry.list().length }, "serving MCP on stdio");
  } else {
    http = await startHttpTransport({
      host: settings.httpHost,
      port: settings.httpPort,
      createMcpServer: () => {
        const { mcp, catalog } = createMcpServer(app, { transport: "http", client: "http" });
        catalogs.add(catalog);
        mcp.server.onclose = () => catalogs.delete(catalog);
        return mcp;
      },
      healthDetails: () => ({
        status: "ok",
        version: app.version,
        uptimeSeconds: Math.round((Date.now() - app.startedAt) / 1000),
        pool: app.fleet.stats(),
        sessions: http?.sessions() ?? 0,
      }),
      log: (level, msg, extra) => log[level](extra ?? {}, msg),
    });
    log.info({ url: http.url, hosts: app.registry.list().length }, "serving MCP over Streamable HTTP");
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
