/**
 * stdio transport: one MCP connection over stdin/stdout. The SDK's serveStdio decides the era from
 * the opening message (a 2025 `initialize` or a 2026-07-28 request with its `_meta` envelope) and
 * pins one server from the factory for the connection. Nothing but protocol may reach stdout, so
 * logs go to stderr (see observe/log.ts).
 *
 * 2026-07-28 `subscriptions/listen` is served by serveStdio's own listen router; Scout sits in
 * front of it (a Transport wrapping the stdio one) to admit each listen's watched files before the
 * SDK acknowledges it, and to stop them when the subscription ends: `notifications/cancelled` of
 * the listen, the SDK answering it (refusal or graceful close), or the connection closing.
 */
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type McpServer,
  type MessageExtraInfo,
  type RequestId,
  type Transport,
  type TransportSendOptions,
} from "@modelcontextprotocol/server";
import { StdioServerTransport, serveStdio } from "@modelcontextprotocol/server/stdio";
import { asListenRequest, listenRefusal, type ListenOpened, type ListenRequest } from "../mcp/listen.js";

export interface StdioHandle {
  /** Resolves when the client closes stdin. */
  closed: Promise<void>;
  /** Ends the connection: open listen streams first get their graceful result. */
  close(): Promise<void>;
}

export interface StdioOptions {
  onError?: (e: Error) => void;
  /** Admits a 2026-07-28 listen (its watched files) before the SDK acknowledges it. */
  listen?: (req: ListenRequest) => Promise<ListenOpened>;
}

export async function startStdioTransport(
  factory: (era: "legacy" | "modern") => McpServer,
  options: StdioOptions = {},
): Promise<StdioHandle> {
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  process.stdin.once("end", () => resolveClosed());
  process.stdin.once("close", () => resolveClosed());
  let era: "legacy" | "modern" | undefined;
  const inner = new StdioServerTransport();
  const transport = options.listen
    ? new ListenAdmission(inner, options.listen, () => era === "legacy")
    : inner;
  const handle = serveStdio(
    (ctx) => {
      era = ctx.era;
      return factory(ctx.era);
    },
    { transport, ...(options.onError ? { onerror: options.onError } : {}) },
  );
  return {
    closed,
    close: async () => {
      await handle.close();
      resolveClosed();
    },
  };
}

/** Stands between the stdio wire and serveStdio for listen requests; everything else passes. */
class ListenAdmission implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  /** Acknowledged (or about to be) listens and their watches. */
  private readonly open = new Map<RequestId, { close(): void }>();
  /** Listens being admitted; true once the client cancelled one. */
  private readonly pending = new Map<RequestId, boolean>();
  private ended = false;

  constructor(
    private readonly inner: Transport,
    private readonly admit: (req: ListenRequest) => Promise<ListenOpened>,
    private readonly legacy: () => boolean,
  ) {}

  async start(): Promise<void> {
    this.inner.onmessage = (m, extra) => this.inbound(m, extra);
    this.inner.onerror = (e) => this.onerror?.(e);
    this.inner.onclose = () => {
      this.endAll();
      this.onclose?.();
    };
    await this.inner.start();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    // The SDK answering a listen (a refusal, or the graceful result at close) ends it.
    if ((isJSONRPCErrorResponse(message) || isJSONRPCResultResponse(message)) && message.id !== undefined) {
      this.end(message.id);
    }
    await this.inner.send(message, options);
  }

  async close(): Promise<void> {
    this.endAll();
    await this.inner.close();
  }

  private inbound(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    const listen = this.legacy() ? undefined : asListenRequest(message);
    if (listen) {
      void this.admitThenDeliver(listen, message, extra);
      return;
    }
    if (isJSONRPCNotification(message) && message.method === "notifications/cancelled") {
      const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
      if (id !== undefined) {
        if (this.pending.has(id)) this.pending.set(id, true);
        this.end(id);
      }
    }
    this.onmessage?.(message, extra);
  }

  private async admitThenDeliver(
    req: ListenRequest,
    message: JSONRPCMessage,
    extra?: MessageExtraInfo,
  ): Promise<void> {
    this.pending.set(req.id, false);
    const opened = await this.admit(req).catch((e: unknown): ListenOpened => ({
      ok: false,
      error: listenRefusal(req.id, e),
    }));
    const cancelled = this.pending.get(req.id) === true;
    this.pending.delete(req.id);
    if (!opened.ok) {
      if (!cancelled && !this.ended) await this.inner.send(opened.error).catch(() => {});
      return;
    }
    if (cancelled || this.ended) {
      opened.stream.close();
      return;
    }
    this.end(req.id); // a listen id used again replaces the old one, as the SDK's router does
    this.open.set(req.id, opened.stream);
    this.onmessage?.(message, extra);
  }

  private end(id: RequestId): void {
    const s = this.open.get(id);
    if (!s) return;
    this.open.delete(id);
    s.close();
  }

  private endAll(): void {
    this.ended = true;
    for (const id of [...this.open.keys()]) this.end(id);
  }
}
