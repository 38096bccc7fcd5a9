/**
 * Streamable HTTP transport: `/mcp` (MCP sessions keyed by Mcp-Session-Id), `/health`, and any
 * extra routes (metrics) the caller mounts. Plain node:http: nothing between the socket and the
 * session transport (./http-session.ts) that a tool call does not need.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isInitializeRequest, isLegacyRequest, type McpServer } from "@modelcontextprotocol/server";
import { HttpSessionTransport } from "./http-session.js";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/** Decides, before anything else, whether a request may proceed; writes the refusal itself. */
export type RequestGate = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

export interface HttpTransportOptions {
  host: string;
  port: number;
  /** A fresh McpServer per session (the SDK binds one server to one transport). */
  createMcpServer: (session: { sessionId: string; req: IncomingMessage }) => McpServer;
  /** Extra GET routes, e.g. "/metrics". `/health` is built in. */
  routes?: Record<string, RouteHandler>;
  /** Verbose health JSON for `GET /health?verbose=1`. */
  healthDetails?: () => unknown;
  /** Auth/Origin checks for everything except `GET /health` (without verbose). */
  gate?: RequestGate;
  /** Reply with plain JSON instead of an SSE stream for requests (progress then can't stream). */
  jsonResponse?: boolean;
  /** Max POST body in bytes. */
  maxBodyBytes?: number;
  /**
   * Milliseconds after which a session with no request and no open stream is closed (0: never).
   * Clients such as the Inspector CLI, mcp-remote and `claude mcp list` never DELETE theirs.
   */
  sessionIdleTimeoutMs?: number;
  /** Live sessions one client may hold (0: no cap); a new one evicts that client's idlest. */
  maxSessionsPerClient?: number;
  /** Who sends a request (API key hash or remote address): the unit of the session cap. */
  clientOf?: (req: IncomingMessage) => string;
  /**
   * Serves one 2026-07-28 request (stateless: no session; the SDK's per-request handler). Without
   * it every request is served as 2025-era.
   */
  serveModern?: (req: IncomingMessage, res: ServerResponse, body: unknown, client: string) => Promise<void>;
  log?: (level: "info" | "warn" | "error", msg: string, extra?: Record<string, unknown>) => void;
}

export interface HttpTransportHandle {
  url: string;
  port: number;
  server: Server;
  sessions(): number;
  /**
   * First step of a graceful shutdown: the listener closes, idle keep-alive sockets are dropped,
   * and new MCP requests get 503; requests in flight keep their streams until close().
   */
  stopAccepting(): void;
  /** Stops accepting, closes every MCP session and the listener. */
  close(): Promise<void>;
}

interface Session {
  transport: HttpSessionTransport;
  mcp: McpServer;
  client: string;
}

/** Well-known OAuth discovery paths: answered (404, no OAuth here) before the API-key gate. */
const OAUTH_DISCOVERY =
  /^\/\.well-known\/(oauth-protected-resource|oauth-authorization-server|openid-configuration)(\/|$)/;

export async function startHttpTransport(options: HttpTransportOptions): Promise<HttpTransportHandle> {
  const sessions = new Map<string, Session>();
  const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const log = options.log ?? (() => {});
  const idleTimeoutMs = options.sessionIdleTimeoutMs ?? 0;
  const maxPerClient = options.maxSessionsPerClient ?? 0;
  const clientOf = options.clientOf ?? ((req: IncomingMessage) => `ip:${req.socket.remoteAddress ?? "?"}`);
  let draining = false;
  let listenerClosed: Promise<void> | undefined;
  /** Resolves once the listener is closed and every connection has ended. */
  const stopListening = () => (listenerClosed ??= new Promise<void>((r) => server.close(() => r())));

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log("error", "HTTP request failed", { error: String(e) });
      if (!res.headersSent) jsonRpcError(res, 500, -32603, "Internal server error");
      else res.end();
    });
  });
  // Keep-alive clients (the common case for MCP) reuse sockets; don't let idle ones pile up.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;

  /** Ends a session whose client went quiet (expiry, or the client's session cap). */
  const expire = (id: string, session: Session, why: string) => {
    sessions.delete(id);
    log("info", "HTTP session closed", { session: id, client: session.client, reason: why });
    void session.mcp.close().catch(() => {});
  };
  const sweeper =
    idleTimeoutMs > 0
      ? setInterval(
          () => {
            const now = performance.now();
            for (const [id, s] of sessions) {
              if ((s.transport.idleMs(now) ?? 0) >= idleTimeoutMs) expire(id, s, "idle");
            }
          },
          Math.min(60_000, Math.max(250, Math.floor(idleTimeoutMs / 4))),
        )
      : undefined;
  sweeper?.unref();

  /**
   * Room for one more session of `client`: at the cap, its idlest session (no call in flight, no
   * GET stream) is closed; if all of them are busy, the new one is refused.
   */
  const makeRoom = (client: string): boolean => {
    if (maxPerClient <= 0) return true;
    const own = [...sessions].filter(([, s]) => s.client === client);
    if (own.length < maxPerClient) return true;
    const now = performance.now();
    const idle = own
      .map(([id, s]) => ({ id, s, idle: s.transport.idleMs(now) }))
      .filter((x): x is { id: string; s: Session; idle: number } => x.idle !== undefined)
      .sort((a, b) => b.idle - a.idle);
    for (const x of idle.slice(0, own.length - maxPerClient + 1)) expire(x.id, x.s, "session cap");
    return own.length - idle.length < maxPerClient;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const verbose = !["", "0", "false"].includes(url.searchParams.get("verbose") ?? "");
    if (url.pathname === "/health" && req.method === "GET" && !verbose) {
      res.writeHead(200, { "content-type": "text/plain" }).end("OK");
      return;
    }
    if (OAUTH_DISCOVERY.test(url.pathname)) {
      // A client that probes for OAuth metadata learns, without a key, that there is none.
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: "not_found", error_description: NO_OAUTH }));
      return;
    }
    if (options.gate && !options.gate(req, res, url)) return;
    if (url.pathname === "/health" && req.method === "GET") {
      const body = JSON.stringify(options.healthDetails?.() ?? { status: "ok" });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    const route = options.routes?.[url.pathname];
    if (route && req.method === "GET") {
      await route(req, res, url);
      return;
    }
    if (url.pathname !== "/mcp") {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not found: MCP is served at /mcp");
      return;
    }
    if (draining && req.method !== "DELETE") {
      res.setHeader("connection", "close");
      jsonRpcError(res, 503, -32000, "Server is shutting down: retry against another instance or later");
      return;
    }
    const sessionId = header(req, "mcp-session-id");
    if (req.method === "POST") {
      const body = await readJson(req, maxBody);
      if (body.error) {
        jsonRpcError(res, body.status, -32700, body.error);
        return;
      }
      if (Array.isArray(body.value) && body.value.length === 0) {
        jsonRpcError(res, 400, -32600, "Invalid Request: empty JSON-RPC batch");
        return;
      }
      // A 2026-07-28 request (its `_meta` envelope says so; it never has a session) goes to the
      // stateless modern handler; 2025-era traffic stays on Scout's own session transport. The
      // SDK's own classifier decides, so the two can never disagree.
      if (
        options.serveModern &&
        !sessionId &&
        !(await isLegacyRequest(classifierRequest(req, url), body.value))
      ) {
        await options.serveModern(req, res, body.value, clientOf(req));
        return;
      }
      if (sessionId) {
        const session = sessions.get(sessionId);
        if (!session) {
          jsonRpcError(
            res,
            404,
            -32001,
            "Session not found: start a new session with an initialize request (idle sessions expire: SCOUT_SESSION_IDLE_TIMEOUT)",
          );
          return;
        }
        session.transport.handlePost(req, res, body.value, url);
        return;
      }
      if (!isInitialize(body.value)) {
        jsonRpcError(res, 400, -32000, "Bad Request: no Mcp-Session-Id header and not an initialize request");
        return;
      }
      const client = clientOf(req);
      if (!makeRoom(client)) {
        jsonRpcError(
          res,
          429,
          -32000,
          `Too many sessions: this client already has ${maxPerClient} sessions with calls in flight (SCOUT_MAX_SESSIONS_PER_CLIENT); end unused ones with DELETE /mcp or retry when a call ends`,
        );
        return;
      }
      const newId = randomUUID();
      const transport = new HttpSessionTransport({
        sessionId: newId,
        jsonResponse: options.jsonResponse ?? false,
      });
      const mcp = options.createMcpServer({ sessionId: newId, req });
      const session: Session = { transport, mcp, client };
      transport.onclose = () => {
        sessions.delete(newId);
      };
      await mcp.connect(transport);
      sessions.set(newId, session);
      if (!transport.handlePost(req, res, body.value, url)) await mcp.close();
      return;
    }
    if (req.method === "GET" || req.method === "DELETE") {
      const session = sessionId ? sessions.get(sessionId) : undefined;
      if (!session) {
        jsonRpcError(res, sessionId ? 404 : 400, -32000, "Missing or unknown Mcp-Session-Id");
        return;
      }
      if (req.method === "GET") session.transport.handleGet(req, res);
      else await session.transport.handleDelete(req, res);
      return;
    }
    res.writeHead(405, { allow: "GET, POST, DELETE" }).end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostForUrl}:${address.port}/mcp`,
    port: address.port,
    server,
    sessions: () => sessions.size,
    stopAccepting: () => {
      if (draining) return;
      draining = true;
      void stopListening();
      server.closeIdleConnections();
    },
    close: async () => {
      draining = true;
      clearInterval(sweeper);
      const closing = stopListening();
      await Promise.allSettled([...sessions.values()].map((s) => s.mcp.close()));
      sessions.clear();
      server.closeAllConnections();
      await closing;
    },
  };
}

const NO_OAUTH =
  "Scout does not use OAuth: send its API key (SCOUT_API_KEYS) as Authorization: Bearer <key> or X-API-Key: <key>";

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function isInitialize(body: unknown): boolean {
  if (Array.isArray(body)) return body.some((m) => isInitializeRequest(m));
  return isInitializeRequest(body);
}

export function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res
    .writeHead(status, { "content-type": "application/json" })
    .end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

function readJson(
  req: IncomingMessage,
  maxBytes: number,
): Promise<{ value?: unknown; error?: undefined } | { value?: undefined; error: string; status: number }> {
  // Plain 'data'/'end' listeners: an async iterator over the request costs more than the parse.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off("data", onData);
        req.resume(); // drain the rest so the socket can be reused
        resolve({ error: `Request body exceeds ${maxBytes} bytes`, status: 413 });
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("error", reject);
    req.once("end", () => {
      if (size > maxBytes) return;
      try {
        const text =
          chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
        resolve({ value: JSON.parse(text) as unknown });
      } catch {
        resolve({ error: "Parse error: request body is not valid JSON", status: 400 });
      }
    });
  });
}

/** A body-less web Request carrying the headers the era classifier reads (the body is parsed). */
function classifierRequest(req: IncomingMessage, url: URL): Request {
  const headers = new Headers();
  for (const name of ["content-type", "accept", "mcp-protocol-version", "mcp-method", "mcp-name"]) {
    const v = req.headers[name];
    if (v !== undefined) headers.set(name, Array.isArray(v) ? v.join(", ") : v);
  }
  return new Request(`http://localhost${url.pathname}`, { method: "POST", headers });
}
