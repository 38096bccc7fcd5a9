/**
 * The seam between the protocol side (a session that received a tool call or a resource read) and
 * the call pipeline that runs it. The MCP layer declares it, the guard implements it, the
 * composition root plugs one into the other: no import goes upward.
 */
import type { ScoutError } from "../errors.js";
import type { ModeResult, ScoutMode } from "./mode.js";
import type { ScoutArgs } from "./schema.js";

/** A user's answer to a confirmation question; "unsupported": this client cannot ask. */
export type ConfirmAnswer = "accept" | "decline" | "cancel" | "unsupported";

/**
 * Thrown by a session's `ask` when the answer can only come in a later round: a 2026-07-28 client
 * is asked through an `input_required` result and retries the call with the answer (MRTR).
 */
export class InputRequired {
  constructor(readonly question: string) {}
}

/** Who is calling and what their session can do. */
export interface CallSession {
  transport: "stdio" | "http";
  /** API key hash or remote address; "stdio" for stdio. Rate limits are per client. */
  client: string;
  /** Asks the user a yes/no question (elicitation); absent: this session cannot ask. */
  ask?: (question: string, signal: AbortSignal) => Promise<ConfirmAnswer>;
  /** Progress notifications for this call, when the client asked for them. */
  progress?: (done: number, total: number | undefined, message: string) => void;
  /** The MCP task this call serves (its id and operation: create, get, result, cancel), for the audit. */
  task?: { id: string; op: string };
  /** Called once the call is authorized and about to run (a task is handed off from there). */
  onAuthorized?: () => void;
}

/** A task operation that touches no host (in-process tasks), as the audit records it. */
export interface TaskAudit {
  task: string;
  taskOp: string;
  outcome: "ok" | "error";
  error?: string;
}

/** Why the pipeline refused a call without running it. */
export type Refusal = "rate" | "busy" | "policy" | "read-only" | "confirm";

/** Host, path and command the audit names for a call, even one that failed. */
export type AuditFields = Pick<
  ModeResult,
  "host" | "path" | "command" | "sudo" | "exitCode" | "job" | "jobAction"
>;

/** What became of a tool call. Typed: nobody parses our own error text to classify it. */
export type ToolOutcome =
  | { kind: "done"; result: ModeResult }
  /** Nothing ran yet: the user must answer `question` first (the client retries the call). */
  | { kind: "input_required"; mode: ScoutMode; question: string }
  | { kind: "refused"; reason: Refusal; mode: ScoutMode; error: ScoutError; audit: AuditFields }
  /** `error` is a ScoutError except for defects (a bug's own Error, reported as it is). */
  | { kind: "failed"; mode: ScoutMode; error: ScoutError | Error; audit: AuditFields };

/** One resource read. `target` (evaluated inside the pipeline) names the host path it reads. */
export interface ResourceRead {
  uri: string;
  host?: string;
  target?: () => { host: string; path: string };
}

export interface CallPipeline {
  tool(args: ScoutArgs, session: CallSession, signal: AbortSignal): Promise<ToolOutcome>;
  /** Records a task operation that did not go through `tool` (the audit log's `task` records). */
  taskEvent(session: CallSession, e: TaskAudit): void;
  resource<T>(
    read: ResourceRead,
    session: CallSession,
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T>;
}
