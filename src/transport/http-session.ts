/**
 * One MCP session over Streamable HTTP, as an SDK `Transport`, written against node:http directly.
 *
 * The SDK's StreamableHTTPServerTransport converts every Node request into a Web `Request` and
 * every answer back from a `ReadableStream` (through @hono/node-server). On a warm read that
 * conversion costs more CPU than the rest of the protocol layer: measured at concurrency 1, an SDK
 * server with a constant tool used 400 µs per call through it and 150 µs through this class.
 * The wire behaviour follows the SDK's transport (same status codes, JSON-RPC error codes and
 * messages), without resumability (no event store), which Scout never offered.
 *
 * - POST: requests open one answer stream: an SSE stream (default) or a single JSON body
 *   (`jsonResponse`). Notifications and responses alone get 202.
 * - SSE heads are written with the first event, so a quick call leaves in one write; a slow call
 *   gets its head after HEAD_FLUSH_MS so that clients and proxies see the stream start, and
 *   `: keepalive` comments every KEEP_ALIVE_MS.
 * - Messages the server sends about a request (progress, elicitation) go on that request's
 *   stream; messages about nothing go on the session's GET stream, or nowhere if it is not open.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  isInitializeRequest,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  parseJSONRPCMessage,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
  type Transport,
  type TransportSendOptions,
} from "@modelcontextprotocol/server";

/** How long an SSE answer may stay silent before its head is sent anyway. */
const HEAD_FLUSH_MS = 1000;
/** Interval of `: keepalive` comments on open SSE streams (the SDK's default). */
const KEEP_ALIVE_MS = 15_000;
/** Largest JSON-RPC batch accepted (the SDK's limit). */
const MAX_BATCH = 100;

const SSE_HEAD = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  "x-accel-buffering": "no",
};

/** An HTTP answer that carries one or more JSON-RPC responses (and, for SSE, what relates to them). */
class AnswerStream {
  /** Requests whose responses this stream still owes. */
  readonly owed = new Set<RequestId>();
  /** JSON mode: the responses, in request order. */
  readonly collected: JSONRPCMessage[] = [];
  private headTimer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  ended = false;

  constructor(
    readonly res: ServerResponse,
    readonly mode: "sse" | "json",
    private readonly head: Record<string, string>,
  ) {
    if (mode === "sse") {
      this.headTimer = setTimeout(() => this.writeHead(), HEAD_FLUSH_MS);
      this.headTimer.unref();
    }
  }

  /** Sends the SSE head now (GET streams, slow calls); no-op once sent. */
  writeHead(): void {
    if (this.ended || this.res.headersSent) return;
    clearTimeout(this.headTimer);
    this.res.writeHead(200, this.head);
    this.res.flushHeaders();
    this.keepAlive = setInterval(() => {
      if (!this.ended) this.res.write(": keepalive\n\n");
    }, KEEP_ALIVE_MS);
    this.keepAlive.unref();
  }

  /** Writes one SSE event; `last` ends the stream in the same write. */
  event(message: JSONRPCMessage, last: boolean): void {
    if (this.ended) return;
    const frame = `event: message\ndata: ${JSON.stringify(message)}\n\n`;
    if (last) {
      this.finish(frame);
      return;
    }
    this.writeHead();
    this.res.write(frame);
  }

  /** JSON mode: the whole answer at once. */
  json(body: unknown): void {
    if (this.ended) return;
    this.res.writeHead(200, { ...this.head, "content-type": "application/json" });
    this.finish(JSON.stringify(body));
  }

  /** JSON mode, every request cancelled: no body to send, as for notifications alone. */
  accepted(): void {
    if (this.ended) return;
    this.abandon();
    this.res.writeHead(202).end();
  }

  /** The client hung up: nothing more is written, timers stop. */
  abandon(): void {
    this.ended = true;
    clearTimeout(this.headTimer);
    clearInterval(this.keepAlive);
  }

  /** Ends the answer, with `last` as its final bytes; a head not yet sent goes in the same write. */
  finish(last?: string): void {
    if (this.ended) return;
    this.abandon();
    if (!this.res.headersSent) this.res.writeHead(200, this.head);
    this.res.end(last);
  }
}

export interface HttpSessionOptions {
  sessionId: string;
  /** Answer requests with one JSON body instead of an SSE stream. */
  jsonResponse: boolean;
}

export class HttpSessionTransport implements Transport {
  readonly sessionId: string;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  private readonly jsonResponse: boolean;
  private readonly streamOf = new Map<RequestId, AnswerStream>();
  private readonly open = new Set<AnswerStream>();
  private standalone: AnswerStream | undefined;
  private initialized = false;
  private closed = false;
  /** performance.now() of the last request or of the last answer stream's end. */
  private lastActive = performance.now();

  constructor(options: HttpSessionOptions) {
    this.sessionId = options.sessionId;
    this.jsonResponse = options.jsonResponse;
  }

  async start(): Promise<void> {}

  /**
   * A POST whose body the caller has already parsed. Returns false when the request was refused
   * (the refusal is written), e.g. so that a failed initialize does not register a session.
   */
  handlePost(req: IncomingMessage, res: ServerResponse, body: unknown, _url?: URL): boolean {
    const accept = req.headers.accept ?? "";
    if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
      return this.refuse(
        res,
        406,
        -32000,
        "Not Acceptable: Client must accept both application/json and text/event-stream",
      );
    }
    if (!isJsonContentType(req.headers["content-type"])) {
      return this.refuse(res, 415, -32000, "Unsupported Media Type: Content-Type must be application/json");
    }
    const raw = Array.isArray(body) ? (body as unknown[]) : [body];
    // JSON-RPC 2.0: "an empty Array" is an Invalid Request, answered with one error, not a 202.
    if (raw.length === 0) return this.refuse(res, 400, -32600, "Invalid Request: empty JSON-RPC batch");
    if (raw.length > MAX_BATCH) {
      return this.refuse(res, 400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH} messages`);
    }
    const messages: JSONRPCMessage[] = [];
    for (const m of raw) {
      let parsed: JSONRPCMessage;
      try {
        parsed = parseJSONRPCMessage(m);
      } catch {
        return this.refuse(res, 400, -32700, "Parse error: Invalid JSON-RPC message");
      }
      messages.push(parsed);
    }
    if (this.closed) return this.refuse(res, 404, -32001, "Session not found");
    this.lastActive = performance.now();
    // The method name first: isInitializeRequest is a full schema parse, costly on every call.
    if (messages.some((m) => "method" in m && m.method === "initialize" && isInitializeRequest(m))) {
      if (this.initialized)
        return this.refuse(res, 400, -32600, "Invalid Request: Server already initialized");
      if (messages.length > 1) {
        return this.refuse(res, 400, -32600, "Invalid Request: Only one initialization request is allowed");
      }
      this.initialized = true;
    } else if (!this.acceptsProtocol(req, res)) {
      return false;
    }
    // Handlers read nothing of the HTTP request (identity is fixed per session): no extra info.
    const extra: MessageExtraInfo = {};
    if (!messages.some(isJSONRPCRequest)) {
      res.writeHead(202).end();
      for (const m of messages) {
        this.releaseCancelled(m);
        this.onmessage?.(m, extra);
      }
      return true;
    }
    const stream = new AnswerStream(res, this.jsonResponse ? "json" : "sse", this.head());
    for (const m of messages) {
      if (isJSONRPCRequest(m)) {
        stream.owed.add(m.id);
        this.streamOf.set(m.id, stream);
      }
    }
    this.open.add(stream);
    res.once("close", () => this.forget(stream));
    for (const m of messages) {
      this.releaseCancelled(m);
      this.onmessage?.(m, extra);
    }
    return true;
  }

  /** GET: the session's stream for messages that relate to no request (list_changed). */
  handleGet(req: IncomingMessage, res: ServerResponse): void {
    if (!(req.headers.accept ?? "").includes("text/event-stream")) {
      this.refuse(res, 406, -32000, "Not Acceptable: Client must accept text/event-stream");
      return;
    }
    if (!this.acceptsProtocol(req, res)) return;
    if (this.standalone) {
      this.refuse(res, 409, -32000, "Conflict: Only one SSE stream is allowed per session");
      return;
    }
    this.lastActive = performance.now();
    const stream = new AnswerStream(res, "sse", this.head());
    this.standalone = stream;
    this.open.add(stream);
    res.once("close", () => this.forget(stream));
    stream.writeHead();
  }

  /** DELETE: the client ends the session. */
  async handleDelete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.acceptsProtocol(req, res)) return;
    res.writeHead(200).end();
    await this.close();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const isResponse = isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message);
    const requestId = isResponse ? message.id : options?.relatedRequestId;
    if (requestId === undefined) {
      if (isResponse) throw new Error("Cannot send a response on a standalone SSE stream");
      this.sendUnrelated(message);
      return;
    }
    const stream = this.streamOf.get(requestId);
    // The client went away (or the session closed) before the answer: nothing can carry it.
    if (!stream) return;
    if (!isResponse) {
      if (stream.mode === "sse") stream.event(message, false);
      // A JSON answer carries responses only: progress is dropped, and a request (elicitation)
      // takes the session's GET stream, or fails at once if there is none.
      else if (isJSONRPCRequest(message)) this.sendUnrelated(message);
      return;
    }
    stream.owed.delete(requestId);
    this.streamOf.delete(requestId);
    const last = stream.owed.size === 0;
    if (stream.mode === "sse") {
      stream.event(message, last);
    } else {
      stream.collected.push(message);
      if (last) stream.json(stream.collected.length === 1 ? stream.collected[0] : stream.collected);
    }
    if (last) {
      this.open.delete(stream);
      this.lastActive = performance.now();
    }
  }

  /**
   * Milliseconds since the session last did anything, or undefined while a stream is open (a call
   * in flight or the GET stream: the client is there). Expiry and eviction go by it.
   */
  idleMs(now = performance.now()): number | undefined {
    return this.open.size > 0 ? undefined : Math.max(0, now - this.lastActive);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.open) stream.finish();
    this.open.clear();
    this.streamOf.clear();
    this.standalone = undefined;
    this.onclose?.();
  }

  /** On the GET stream. Without one, a notification is dropped and a request fails at once. */
  private sendUnrelated(message: JSONRPCMessage): void {
    if (this.standalone) {
      this.standalone.event(message, false);
      return;
    }
    // Better than waiting out the request's timeout for an answer that cannot come.
    if (isJSONRPCRequest(message)) {
      throw new Error("The client has no open GET stream on /mcp to receive server requests");
    }
  }

  private head(): Record<string, string> {
    return { ...SSE_HEAD, "mcp-session-id": this.sessionId };
  }

  /**
   * `notifications/cancelled`: the server sends no response for a cancelled request (the SDK
   * drops it), so the answer stream stops owing one, and ends when it owes nothing else.
   * Otherwise the stream stayed open until the session ended, and clients with a bounded
   * connection pool (the Python SDK's httpx) stalled after ~100 cancels.
   */
  private releaseCancelled(m: JSONRPCMessage): void {
    if (!("method" in m) || m.method !== "notifications/cancelled" || "id" in m) return;
    const id = (m.params as { requestId?: RequestId } | undefined)?.requestId;
    if (id === undefined) return;
    const stream = this.streamOf.get(id);
    if (!stream) return;
    this.streamOf.delete(id);
    stream.owed.delete(id);
    if (stream.owed.size > 0) return;
    this.open.delete(stream);
    this.lastActive = performance.now();
    if (stream.mode === "sse") stream.finish();
    else if (stream.collected.length > 0)
      stream.json(stream.collected.length === 1 ? stream.collected[0] : stream.collected);
    else stream.accepted();
  }

  /** The client hung up: drop what its answer would have carried. */
  private forget(stream: AnswerStream): void {
    stream.abandon();
    if (this.open.delete(stream)) this.lastActive = performance.now();
    if (this.standalone === stream) this.standalone = undefined;
    for (const id of stream.owed) this.streamOf.delete(id);
    stream.owed.clear();
  }

  private acceptsProtocol(req: IncomingMessage, res: ServerResponse): boolean {
    const v = req.headers["mcp-protocol-version"];
    const version = Array.isArray(v) ? v[0] : v;
    if (version === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return true;
    this.refuse(
      res,
      400,
      -32000,
      `Bad Request: Unsupported protocol version: ${version} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(", ")})`,
    );
    return false;
  }

  private refuse(res: ServerResponse, status: number, code: number, message: string): false {
    this.onerror?.(new Error(message));
    res
      .writeHead(status, { "content-type": "application/json" })
      .end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
    return false;
  }
}

/** `application/json`, with or without parameters, as a parsed media type (not a substring). */
function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const semi = value.indexOf(";");
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase() === "application/json";
}
