/**
 * `subscriptions/listen` (2026-07-28) and watched files. The SDK's listen routers own the wire (the
 * acknowledgement first, each stream's filter, subscription-id stamping, keepalive, the graceful
 * `SubscriptionsListenResult` at shutdown); what they cannot know is what a watch costs. So before
 * the SDK acknowledges a listen, each URI of its `resourceSubscriptions` is admitted as a 2025
 * `resources/subscribe` is (admitWatch), the stream takes its slots against Scout's caps, and its
 * watches start; they stop when the stream ends. Refusals answer the listen request instead of an
 * acknowledgement: a URI Scout cannot watch is -32602; a full cap is -32603 (as the SDK refuses
 * its own subscription limit), saying which setting and what to do.
 */
import {
  PROTOCOL_VERSION_META_KEY,
  ProtocolErrorCode,
  type JSONRPCErrorResponse,
  type RequestId,
} from "@modelcontextprotocol/server";
import { isScoutError } from "../errors.js";
import type { CallSession } from "./calls.js";
import {
  WatchCapError,
  admitWatch,
  type AdmitDeps,
  type ListenWatches,
  type SharedWatches,
} from "./watches.js";

export interface ListenRequest {
  id: RequestId;
  /** The resources the filter asks updates for (distinct, in order). */
  uris: string[];
}

/**
 * A `subscriptions/listen` request in the 2026-07-28 envelope, or undefined for any other message
 * (a malformed filter is the SDK's to refuse: it answers -32602 before any acknowledgement).
 */
export function asListenRequest(message: unknown): ListenRequest | undefined {
  if (message === null || typeof message !== "object" || Array.isArray(message)) return undefined;
  const m = message as { method?: unknown; id?: unknown; params?: unknown };
  if (m.method !== "subscriptions/listen") return undefined;
  if (typeof m.id !== "string" && typeof m.id !== "number") return undefined;
  const params = (m.params ?? {}) as {
    _meta?: Record<string, unknown>;
    notifications?: { resourceSubscriptions?: unknown };
  };
  if (params._meta?.[PROTOCOL_VERSION_META_KEY] === undefined) return undefined;
  const asked = params.notifications?.resourceSubscriptions;
  const uris = Array.isArray(asked) ? asked.filter((u): u is string => typeof u === "string") : [];
  return { id: m.id, uris: [...new Set(uris)] };
}

export interface ListenDeps extends AdmitDeps {
  /** The watches of the delivery path this listen arrives on. */
  watches: SharedWatches;
}

export type ListenOpened = { ok: true; stream: ListenWatches } | { ok: false; error: JSONRPCErrorResponse };

/**
 * Admits one listen stream and starts its watches, or says why not (the answer to send instead of
 * letting the SDK acknowledge). The caller closes `stream` when the listen stream ends.
 */
export async function openListen(
  d: ListenDeps,
  req: ListenRequest,
  session: CallSession,
  signal: AbortSignal,
): Promise<ListenOpened> {
  try {
    d.watches.check(session.client, req.uris.length);
    const targets = await Promise.all(req.uris.map((uri) => admitWatch(d, uri, session, signal)));
    return { ok: true, stream: d.watches.stream(session.client, targets) };
  } catch (e) {
    return { ok: false, error: listenRefusal(req.id, e) };
  }
}

/** The JSON-RPC error answer for a listen Scout refuses. */
export function listenRefusal(id: RequestId, e: unknown): JSONRPCErrorResponse {
  if (e instanceof WatchCapError) {
    return {
      jsonrpc: "2.0",
      id,
      error: {
        code: ProtocolErrorCode.InternalError,
        message: `Error: ${e.userText}`,
        data: { cap: e.cap, limit: e.limit },
      },
    };
  }
  if (isScoutError(e)) {
    return {
      jsonrpc: "2.0",
      id,
      error: { code: ProtocolErrorCode.InvalidParams, message: `Error: ${e.userText}` },
    };
  }
  return {
    jsonrpc: "2.0",
    id,
    error: {
      code: ProtocolErrorCode.InternalError,
      message: `Error: ${e instanceof Error ? e.message : String(e)}`,
    },
  };
}
