/**
 * A tiny HTTP listener for `/metrics` (and `/health`, `?verbose=1` for the JSON details) when MCP itself is served over stdio
 * (SCOUT_METRICS_PORT). Loopback only: the exposition names hosts, so it is not for the world.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface MetricsEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startMetricsEndpoint(options: {
  port: number;
  host?: string;
  serveMetrics: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** The JSON of `GET /health?verbose=1`, as on the HTTP transport. */
  healthDetails?: () => unknown;
  onError?: (e: unknown) => void;
}): Promise<MetricsEndpoint> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    const verbose = !["", "0", "false"].includes(url.searchParams.get("verbose") ?? "");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET" }).end();
    } else if (path === "/metrics") {
      options.serveMetrics(req, res).catch((e: unknown) => {
        options.onError?.(e);
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("Error: collecting metrics failed");
      });
    } else if (path === "/health" && verbose && options.healthDetails) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(options.healthDetails()));
    } else if (path === "/health") {
      res.writeHead(200, { "content-type": "text/plain" }).end("OK");
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not found: metrics are served at /metrics");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      const why = e.code === "EADDRINUSE" ? "is already in use" : `cannot be opened (${e.code ?? e.message})`;
      reject(
        new Error(`SCOUT_METRICS_PORT ${options.port} on ${host} ${why}: choose another port or unset it`, {
          cause: e,
        }),
      );
    });
    server.listen(options.port, host, () => resolve());
  });
  // Scrapes must never keep a stdio server alive after its client has gone.
  server.unref();
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
