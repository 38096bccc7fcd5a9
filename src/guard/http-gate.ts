/**
 * The HTTP edge: API keys (constant-time comparison, only hashes are ever logged) and DNS-rebinding
 * protection (Origin and, on loopback binds, Host must be local or explicitly allowed).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** A refusal as a JSON-RPC error body (the transport's own errors use the same shape). */
function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res
    .writeHead(status, { "content-type": "application/json" })
    .end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

export interface GateOptions {
  apiKeys: string[];
  allowedOrigins: string[];
  bindHost: string;
  onReject?: (reason: "auth" | "origin", detail: string) => void;
}

export function keyHash(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

/** RFC 9110 challenge with Scout's own scheme name, and the two headers that carry a key. */
export const API_KEY_CHALLENGE =
  'ApiKey realm="scout-mcp", header="X-API-Key", error_description="Scout wants an API key (SCOUT_API_KEYS) as Authorization: Bearer <key> or X-API-Key: <key>; it does not use OAuth"';

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackAddress(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.startsWith("127.");
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1);
  return hostHeader.split(":")[0] ?? "";
}

/** Returns the client identity (key hash) when the request carries a valid key. */
export function apiKeyOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, "").trim();
  const x = req.headers["x-api-key"];
  return Array.isArray(x) ? x[0] : x;
}

export function makeHttpGate(options: GateOptions) {
  const keys = options.apiKeys.map((k) => createHash("sha256").update(k).digest());
  const allowed = new Set(options.allowedOrigins.map((o) => o.replace(/\/$/, "").toLowerCase()));
  const loopbackBind = isLoopbackAddress(options.bindHost);

  function keyValid(presented: string): boolean {
    const digest = createHash("sha256").update(presented).digest();
    let ok = false;
    // Compare against every key without short-circuiting: timing reveals nothing.
    for (const k of keys) ok = timingSafeEqual(k, digest) || ok;
    return ok;
  }

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = req.headers.origin;
    if (origin) {
      let originHost = "";
      try {
        originHost = new URL(origin).hostname;
      } catch {
        originHost = "";
      }
      const o = origin.replace(/\/$/, "").toLowerCase();
      if (!allowed.has(o) && !isLoopbackAddress(originHost.startsWith("[") ? originHost : originHost)) {
        options.onReject?.("origin", origin);
        jsonRpcError(
          res,
          403,
          -32000,
          `Forbidden: Origin ${origin} is not allowed (set SCOUT_ALLOWED_ORIGINS)`,
        );
        return false;
      }
    }
    if (loopbackBind) {
      const host = hostnameOf(req.headers.host ?? "");
      if (!isLoopbackAddress(host) && !allowed.has(`http://${req.headers.host ?? ""}`.toLowerCase())) {
        options.onReject?.("origin", `host ${req.headers.host ?? ""}`);
        jsonRpcError(res, 403, -32000, `Forbidden: Host ${req.headers.host ?? ""} is not a loopback name`);
        return false;
      }
    }
    if (keys.length > 0) {
      const presented = apiKeyOf(req);
      if (!presented || !keyValid(presented)) {
        options.onReject?.("auth", presented ? `invalid key ${keyHash(presented)}` : "missing key");
        // Not a `Bearer` challenge: OAuth-capable clients (TS SDK, Claude Code) read `Bearer` with
        // or without `resource_metadata` as "start OAuth discovery" and then report a misleading
        // OAuth failure. Scout takes an API key; the challenge and the body say so.
        res.setHeader("www-authenticate", API_KEY_CHALLENGE);
        jsonRpcError(
          res,
          401,
          -32001,
          presented
            ? "Unauthorized: invalid API key (Scout wants one of its SCOUT_API_KEYS; it does not use OAuth)"
            : "Unauthorized: Scout wants an API key: send Authorization: Bearer <key> or X-API-Key: <key> (one of SCOUT_API_KEYS; Scout does not use OAuth)",
        );
        return false;
      }
    }
    return true;
  };
}
