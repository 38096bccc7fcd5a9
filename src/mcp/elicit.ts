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
import { InputRequired, type ConfirmAnswer } from "./calls.js";

/** The empty form: the question is the message, Accept is the answer. */
const CONFIRM_FORM = { type: "object" as const, properties: {} };

/** What a requestState vouches for: that Scout asked exactly this question (its digest). */
interface ConfirmState {
  q: string;
}

const digest = (question: string): string => createHash("sha256").update(question).digest("base64url");

const codecs = new Map<string, RequestStateCodec<ConfirmState>>();
/** A random key when none is configured: then only this process can continue its own calls. */
const processKey = randomBytes(32).toString("base64url");

/** The HMAC codec for confirmation state (one per key and lifetime). */
export function confirmStateCodec(key: string | undefined, ttlMs: number): RequestStateCodec<ConfirmState> {
  const k = key ?? processKey;
  const id = `${k}\0${ttlMs}`;
  let codec = codecs.get(id);
  if (!codec) {
    codec = createRequestStateCodec<ConfirmState>({
      key: k,
      ttlSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
    });
    codecs.set(id, codec);
  }
  return codec;
}

/**
 * 2026-07-28: the answer to `question` if this retry carries it (and a state we signed for this
 * very question); otherwise throws InputRequired so the call answers input_required.
 */
export function mrtrAnswer(ctx: ServerContext, question: string): ConfirmAnswer {
  const state = ctx.mcpReq.requestState<ConfirmState>();
  const view = inputResponse(ctx.mcpReq.inputResponses, "confirm");
  if (view.kind === "elicit" && state?.q === digest(question)) return view.action;
  throw new InputRequired(question);
}

/** The input_required result that asks `question`, with state only Scout can mint. */
export async function askThroughMrtr(
  codec: RequestStateCodec<ConfirmState>,
  question: string,
): Promise<InputRequiredResult> {
  return inputRequired({
    inputRequests: {
      confirm: inputRequired.elicit({ mode: "form", message: question, requestedSchema: CONFIRM_FORM }),
    },
    requestState: await codec.mint({ q: digest(question) }),
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
