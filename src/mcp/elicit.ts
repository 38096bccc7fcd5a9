/**
 * Asking a 2025-era client's user a yes/no question through MCP elicitation. The question goes
 * out with the tool call it belongs to (`callId`): over HTTP, on that call's own answer stream.
 */
import type { RequestId, Server } from "@modelcontextprotocol/server";
import type { ConfirmAnswer } from "./calls.js";

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
