/**
 * Everything that wraps one tool call or resource read, in order: rate limit → concurrency queue →
 * end-to-end deadline → run → metrics, log line, audit record. The MCP layer calls this through
 * its hooks; it never formats answers beyond the refusals it issues itself.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Settings } from "../config/settings.js";
import { ScoutError, abortError, errorMessage } from "../errors.js";
import type { ScoutMode, ToolOutcome } from "../mcp/scout-tool.js";
import { modeOf } from "../mcp/scout-tool.js";
import type { CallInfo, ServerHooks } from "../mcp/server.js";
import type { ResourceCallInfo } from "../mcp/resources.js";
import type { Logger } from "../observe/log.js";
import type { RejectReason, ScoutMetrics } from "../observe/metrics.js";
import { deadlineSignal, raceSignal } from "../ssh/abort.js";
import type { AuditLog, AuditRecord } from "./audit.js";
import { ConcurrencyLimiter } from "./concurrency.js";
import { RateLimiter } from "./rate-limit.js";

export interface CallGuardOptions {
  settings: Pick<
    Settings,
    | "maxConcurrentRequests"
    | "maxQueuedRequests"
    | "rateLimitPerMinute"
    | "requestTimeoutMs"
    | "slowThresholdMs"
  >;
  log: Logger;
  metrics?: ScoutMetrics;
  audit?: AuditLog;
}

function textOf(result: CallToolResult): string {
  let s = "";
  for (const c of result.content) if (c.type === "text") s += c.text;
  return s;
}

export class CallGuard {
  readonly limiter: ConcurrencyLimiter;
  private readonly rate: RateLimiter;

  constructor(private readonly options: CallGuardOptions) {
    this.limiter = new ConcurrencyLimiter(
      options.settings.maxConcurrentRequests,
      options.settings.maxQueuedRequests,
    );
    this.rate = new RateLimiter(options.settings.rateLimitPerMinute);
  }

  /** Hooks for createMcpServer, bound to one client identity. */
  hooks(): ServerHooks {
    return {
      aroundTool: (call, run) => this.tool(call, run),
      around: (info, fn, signal) => this.resource(info, fn, signal),
    };
  }

  private reject(reason: RejectReason, mode: ScoutMode, client: string, e: ScoutError): CallToolResult {
    this.options.metrics?.rejected.inc({ reason });
    this.options.metrics?.requests.inc({ mode, outcome: "rejected" });
    this.options.log.warn({ client, mode, reason }, `call rejected: ${e.message}`);
    this.record({ client, mode, outcome: "rejected", bytes: 0, durationMs: 0, error: e.userText });
    return { content: [{ type: "text", text: `Error: ${e.userText}` }], isError: true };
  }

  /** Rate limit and queue; resolves with a release function or a refusal. */
  private async admit(
    client: string,
    signal: AbortSignal,
  ): Promise<(() => void) | { reason: RejectReason; error: ScoutError }> {
    const wait = this.rate.take(client);
    if (wait > 0) {
      return { reason: "rate", error: new ScoutError("refused", `rate limit exceeded, retry in ${wait} s`) };
    }
    const m = this.options.metrics;
    m?.queued.set(this.limiter.waiting + 1);
    try {
      return await this.limiter.acquire(signal);
    } catch (e) {
      if (e instanceof ScoutError && e.code === "refused") return { reason: "busy", error: e };
      throw e;
    } finally {
      m?.queued.set(this.limiter.waiting);
    }
  }

  async tool(call: CallInfo, run: (signal: AbortSignal) => Promise<ToolOutcome>): Promise<CallToolResult> {
    const mode = modeOf(call.args);
    const admitted = await this.admit(call.client, call.signal).catch((e: unknown) => e as Error);
    if (admitted instanceof Error) {
      return { content: [{ type: "text", text: `Error: ${errorMessage(admitted)}` }], isError: true };
    }
    if (typeof admitted !== "function")
      return this.reject(admitted.reason, mode, call.client, admitted.error);
    const started = performance.now();
    const m = this.options.metrics;
    m?.inFlight.inc();
    const timeoutS = this.options.settings.requestTimeoutMs / 1000;
    const deadline = deadlineSignal(
      this.options.settings.requestTimeoutMs,
      `request timed out after ${timeoutS} s (SCOUT_REQUEST_TIMEOUT); everything it started was stopped`,
      call.signal,
    );
    let outcome: ToolOutcome;
    try {
      outcome = await raceAbort(run(deadline.signal), deadline.signal, mode);
    } finally {
      deadline.dispose();
      admitted();
      m?.inFlight.dec();
    }
    const durationMs = performance.now() - started;
    const timedOut = deadline.signal.aborted && !call.signal.aborted;
    const isError = outcome.result.isError === true;
    const bytes = Buffer.byteLength(textOf(outcome.result));
    m?.requestDuration.observe({ mode: outcome.mode }, durationMs / 1000);
    m?.requests.inc({ mode: outcome.mode, outcome: isError ? "error" : "ok" });
    m?.outputBytes.observe({ mode: outcome.mode }, bytes);
    if (timedOut) m?.rejected.inc({ reason: "timeout" });
    const errorInfo = (
      outcome.result.structuredContent as { error?: { code?: string; message?: string } } | undefined
    )?.error;
    if (errorInfo?.code === "refused" && /^(Policy|Read-only)/.test(errorInfo.message ?? "")) {
      m?.rejected.inc({ reason: "policy" });
    }
    const line = {
      client: call.client,
      mode: outcome.mode,
      host: outcome.host,
      path: outcome.path,
      durationMs: Math.round(durationMs * 10) / 10,
      bytes,
      outcome: isError ? "error" : "ok",
    };
    if (durationMs > this.options.settings.slowThresholdMs) this.options.log.warn(line, "slow tool call");
    else this.options.log.info(line, "tool call");
    const err = isError
      ? textOf(outcome.result)
          .replace(/^Error:\s*/, "")
          .slice(0, 500)
      : undefined;
    this.record({
      client: call.client,
      mode: outcome.mode,
      ...(outcome.host ? { host: outcome.host } : {}),
      ...(outcome.path ? { path: outcome.path } : {}),
      ...(outcome.command !== undefined ? { command: outcome.command } : {}),
      ...(outcome.sudo ? { sudo: true } : {}),
      ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
      bytes,
      durationMs: Math.round(durationMs),
      outcome: isError ? "error" : "ok",
      ...(err ? { error: err } : {}),
    });
    return outcome.result;
  }

  async resource<T>(
    info: ResourceCallInfo,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const client = info.client;
    const admitted = await this.admit(client, signal);
    if (typeof admitted !== "function") {
      this.options.metrics?.rejected.inc({ reason: admitted.reason });
      this.options.metrics?.requests.inc({ mode: "resource", outcome: "rejected" });
      this.options.log.warn(
        { client, mode: "resource", uri: info.uri, reason: admitted.reason },
        `call rejected: ${admitted.error.message}`,
      );
      throw admitted.error;
    }
    const started = performance.now();
    const deadline = deadlineSignal(
      this.options.settings.requestTimeoutMs,
      "resource read timed out",
      signal,
    );
    const m = this.options.metrics;
    m?.inFlight.inc();
    let ok = false;
    let bytes = 0;
    try {
      const r = await raceSignal(fn(deadline.signal), deadline.signal, "the resource read");
      ok = true;
      bytes = resourceBytes(r);
      m?.outputBytes.observe({ mode: "resource" }, bytes);
      return r;
    } finally {
      deadline.dispose();
      admitted();
      m?.inFlight.dec();
      const durationMs = performance.now() - started;
      m?.requestDuration.observe({ mode: "resource" }, durationMs / 1000);
      m?.requests.inc({ mode: "resource", outcome: ok ? "ok" : "error" });
      if (deadline.signal.aborted && !signal.aborted) m?.rejected.inc({ reason: "timeout" });
      const line = {
        uri: info.uri,
        durationMs: Math.round(durationMs * 10) / 10,
        bytes,
        outcome: ok ? "ok" : "error",
      };
      if (durationMs > this.options.settings.slowThresholdMs)
        this.options.log.warn(line, "slow resource read");
      else this.options.log.info(line, "resource read");
      this.record({
        client,
        mode: "resource",
        ...(info.host ? { host: info.host } : {}),
        path: info.uri,
        bytes,
        durationMs: Math.round(durationMs),
        outcome: ok ? "ok" : "error",
      });
    }
  }

  private record(r: Omit<AuditRecord, "time">): void {
    this.options.audit?.write({ time: new Date().toISOString(), ...r });
  }
}

/** The call's answer, or an error result as soon as the deadline fires (work is told to stop). */
function raceAbort(p: Promise<ToolOutcome>, signal: AbortSignal, mode: ScoutMode): Promise<ToolOutcome> {
  return raceSignal(p, signal, "the call").catch((e: unknown) => {
    const err = e instanceof ScoutError ? e : abortError(signal, "the call");
    return {
      mode,
      result: {
        content: [{ type: "text", text: `Error: ${err.userText}` }],
        structuredContent: { mode, error: { code: err.code, message: err.userText } },
        isError: true,
      },
    };
  });
}

/** Bytes a resource read returns: its text contents, and its blobs decoded (base64 is 4/3 larger). */
function resourceBytes(result: unknown): number {
  const contents = (result as { contents?: unknown } | null)?.contents;
  if (!Array.isArray(contents)) return 0;
  let total = 0;
  for (const c of contents as Array<{ text?: unknown; blob?: unknown }>) {
    if (typeof c.text === "string") total += Buffer.byteLength(c.text);
    else if (typeof c.blob === "string") total += Math.floor((c.blob.length * 3) / 4);
  }
  return total;
}
