/**
 * Asking the user a yes/no question. 2025-era: an elicitation request on the tool call's own
 * stream (`callId`), waiting up to SCOUT_CONFIRM_TIMEOUT. 2026-07-28: an `input_required` answer
 * (MRTR) whose retry carries the user's answer and our signed requestState. Either way the form
 * has no fields: Accept means yes (a required checkbox a client may leave unticked would turn
 * Accept into a decline).
 */
import { createHash, randomBytes } from "node:crypto";
import {
  createRequestStateCodec,
  inputRequired,
  inputResponse,
  type InputRequiredResult,
  type RequestId,
  type RequestStateCodec,
  type Server,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { ScoutError } from "../errors.js";
import { encodedBytes } from "./budget.js";
import { InputRequired, type ConfirmAnswer } from "./calls.js";

/** The empty form: the question is the message, Accept is the answer. */
const CONFIRM_FORM = { type: "object" as const, properties: {} };

/** What a requestState vouches for: that Scout asked exactly this question (its digest). */
interface ConfirmState {
  q: string;
}

/** A state we signed whose lifetime (SCOUT_CONFIRM_TIMEOUT) is over: refused with its own answer. */
const EXPIRED = { expired: true } as const;
type VerifiedState = ConfirmState | typeof EXPIRED;

const digest = (question: string): string => createHash("sha256").update(question).digest("base64url");

const codecs = new Map<string, RequestStateCodec<ConfirmState>>();
/** A random key when none is configured: then only this process can continue its own calls. */
const processKey = randomBytes(32).toString("base64url");

let last: { key: string | undefined; ttlMs: number; codec: RequestStateCodec<ConfirmState> } | undefined;

/** The HMAC codec for confirmation state (one per key and lifetime). */
export function confirmStateCodec(key: string | undefined, ttlMs: number): RequestStateCodec<ConfirmState> {
  // Asked for by every 2026-07-28 request's server, always with the same settings.
  if (last && last.key === key && last.ttlMs === ttlMs) return last.codec;
  const k = key ?? processKey;
  const id = `${k}\0${ttlMs}`;
  let codec = codecs.get(id);
  if (!codec) {
    codec = createRequestStateCodec<ConfirmState>({
      key: k,
      ttlSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      // The spec's user binding: a state minted for one client (API key or address) is no good
      // to another.
      bind: (ctx) => ctx.http?.authInfo?.clientId ?? "",
    });
    codecs.set(id, codec);
  }
  last = { key, ttlMs, codec };
  return codec;
}

/** The request or result around a question: method, form schema, requestState, ids. */
const QUESTION_ENVELOPE = 2048;

/**
 * Throws unless `question` fits one MCP message (SCOUT_MAX_MESSAGE_SIZE) with its envelope. A
 * question is never cut: the user must see the whole command they allow, so a command too long
 * to show is not asked about and not run (confirmation fails closed).
 */
export function checkQuestionFits(question: string, maxMessageSize: number): void {
  const bytes = encodedBytes(question);
  if (bytes + QUESTION_ENVELOPE <= maxMessageSize) return;
  throw new ScoutError(
    "refused",
    `the question is ${bytes} bytes encoded, more than one MCP message carries (SCOUT_MAX_MESSAGE_SIZE=${maxMessageSize}), and a command is never confirmed unseen`,
    { hint: "Put the script in a file on the host (beam uploads it) and run that file instead" },
  );
}

/**
 * The server's requestState check: a forged, altered or foreign state is refused by the SDK
 * (-32602 "Invalid or expired requestState"); one we signed that has only expired passes as
 * EXPIRED, so that the call can say what happened (the MAC is checked before the expiry).
 */
export function verifyConfirmState(
  codec: RequestStateCodec<ConfirmState>,
): (state: string, ctx: ServerContext) => Promise<VerifiedState> {
  let verify = verifiers.get(codec);
  if (verify) return verify;
  verify = async (state, ctx) => {
    try {
      return await codec.verify(state, ctx);
    } catch (e) {
      if (e instanceof Error && e.message === "expired") return EXPIRED;
      throw e;
    }
  };
  verifiers.set(codec, verify);
  return verify;
}

const verifiers = new WeakMap<
  RequestStateCodec<ConfirmState>,
  (state: string, ctx: ServerContext) => Promise<VerifiedState>
>();

/**
 * 2026-07-28: the answer to `question` if this retry carries it (and a state we signed for this
 * very question); otherwise throws InputRequired so the call answers input_required. An answer
 * whose state expired is refused (the human answered after SCOUT_CONFIRM_TIMEOUT).
 */
export function mrtrAnswer(ctx: ServerContext, question: string, ttlMs: number): ConfirmAnswer {
  const state = ctx.mcpReq.requestState<VerifiedState>();
  if (state !== undefined && "expired" in state) {
    throw new ScoutError(
      "refused",
      `the answer came after the question expired (SCOUT_CONFIRM_TIMEOUT=${ttlMs / 1000} s)`,
      { hint: "Call again to be asked anew" },
    );
  }
  const view = inputResponse(ctx.mcpReq.inputResponses, "confirm");
  if (view.kind === "elicit" && state?.q === digest(question)) return view.action;
  throw new InputRequired(question);
}

/** The input_required result that asks `question`, with state only Scout can mint. */
export async function askThroughMrtr(
  codec: RequestStateCodec<ConfirmState>,
  question: string,
  ctx: ServerContext,
): Promise<InputRequiredResult> {
  return inputRequired({
    inputRequests: {
      confirm: inputRequired.elicit({ mode: "form", message: question, requestedSchema: CONFIRM_FORM }),
    },
    requestState: await codec.mint({ q: digest(question) }, ctx),
  });
}

export async function elicitConfirmation(
  server: Server,
  message: string,
  signal: AbortSignal,
  callId: RequestId | undefined,
  timeoutMs: number,
): Promise<ConfirmAnswer> {
  const caps = server.getClientCapabilities()?.elicitation;
  // An empty capability object means form mode (the SDK normalizes it the same way).
  if (!caps || (caps.form === undefined && Object.keys(caps).length > 0)) return "unsupported";
  const r = await server.elicitInput(
    {
      mode: "form",
      message,
      requestedSchema: CONFIRM_FORM,
    },
    { signal, timeout: timeoutMs, ...(callId !== undefined ? { relatedRequestId: callId } : {}) },
  );
  return r.action;
}
