/**
 * Human confirmation (SCOUT_CONFIRM_COMMANDS): before a command or an upload runs, the user must
 * accept. Fails closed: a client that cannot ask, a decline, a cancel or an error all mean "do not
 * run". How the question travels (elicitation, MRTR) is the session's business.
 */
import { ScoutError, errorMessage } from "../errors.js";
import { InputRequired, type CallSession, type ConfirmAnswer } from "../mcp/calls.js";

export type { ConfirmAnswer } from "../mcp/calls.js";

/** Resolves when the user accepted; throws ScoutError("refused") for every other answer. */
export async function confirmOrRefuse(
  session: CallSession,
  question: string,
  signal: AbortSignal,
): Promise<void> {
  let answer: ConfirmAnswer = "unsupported";
  if (session.ask) {
    try {
      answer = await session.ask(question, signal);
    } catch (e) {
      if (signal.aborted || e instanceof InputRequired) throw e;
      throw new ScoutError(
        "refused",
        `Asking the user for confirmation failed (${errorMessage(e)}); nothing was run`,
      );
    }
  }
  if (answer === "accept") return;
  if (answer === "unsupported") {
    throw new ScoutError(
      "refused",
      "Confirmation required (SCOUT_CONFIRM_COMMANDS) but this client cannot ask its user (no MCP elicitation support); nothing was run",
      {
        hint: "Use a client that supports elicitation, or ask the operator to turn SCOUT_CONFIRM_COMMANDS off",
      },
    );
  }
  throw new ScoutError(
    "refused",
    `The user ${answer === "decline" ? "declined" : "cancelled"} the confirmation; nothing was run`,
  );
}
