/**
 * Human confirmation (SCOUT_CONFIRM_COMMANDS): before a command or an upload runs, ask the user
 * through MCP elicitation. Fails closed: a client that cannot elicit, a decline, a cancel or an
 * error all mean "do not run".
 */
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestId } from "@modelcontextprotocol/sdk/types.js";

export type ConfirmAnswer = "accept" | "decline" | "cancel" | "unsupported";

/**
 * Asks the client's user; resolves "unsupported" when the client did not declare elicitation.
 * The question goes out with the tool call it belongs to (`callId`): over HTTP, on that call's
 * own answer stream.
 */
export async function elicitConfirmation(
  server: Server,
  message: string,
  signal: AbortSignal,
  callId?: RequestId,
): Promise<ConfirmAnswer> {
  const caps = server.getClientCapabilities()?.elicitation;
  // An empty capability object means form mode (the SDK normalizes it the same way).
  if (!caps || (caps.form === undefined && Object.keys(caps).length > 0)) return "unsupported";
  const r = await server.elicitInput(
    {
      mode: "form",
      message,
      requestedSchema: {
        type: "object",
        properties: {
          confirm: { type: "boolean", title: "Run it", description: "Allow Scout to run this" },
        },
        required: ["confirm"],
      },
    },
    { signal, ...(callId !== undefined ? { relatedRequestId: callId } : {}) },
  );
  if (r.action !== "accept") return r.action;
  return r.content?.confirm === true ? "accept" : "decline";
}
