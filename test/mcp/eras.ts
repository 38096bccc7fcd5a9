/**
 * Clients of both protocol eras against a real Scout: the SDK v2 client pinned to 2026-07-28
 * (stateless, server/discover) and the SDK v1 client (2025-11-25 initialize + session), over
 * Streamable HTTP and stdio. One call shape for all four, so a test runs the same checks on each.
 */
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttp,
} from "@modelcontextprotocol/client";
import { StdioClientTransport as ModernStdio } from "@modelcontextprotocol/client/stdio";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as LegacyStdio } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport as LegacyHttp } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { LabFleet } from "../fleet/index.js";
import { cliArgs, labEnv } from "../cli/run-cli.js";

export type EraName = "modern" | "legacy";
export type TransportName = "http" | "stdio";

export interface ToolAnswer {
  text: string;
  isError: boolean;
  structuredContent?: unknown;
  raw: Record<string, unknown>;
}

export interface EraClient {
  era: EraName;
  transport: TransportName;
  call(args: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<ToolAnswer>;
  callTool(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
  listTools(): Promise<Record<string, unknown>>;
  listResources(cursor?: string): Promise<Record<string, unknown>>;
  /** completion/complete for a resource template argument. */
  complete(
    uriTemplate: string,
    argument: { name: string; value: string },
    context?: Record<string, string>,
  ): Promise<{ values: string[]; total?: number; hasMore?: boolean }>;
  listTemplates(): Promise<Record<string, unknown>>;
  read(uri: string): Promise<{ text: string; raw: Record<string, unknown> }>;
  /** The protocol era the connection landed on, as the client reports it. */
  negotiated(): string | undefined;
  close(): Promise<void>;
}

export interface EraOptions {
  /** Answers confirmation questions (elicitation / MRTR); absent: the client cannot ask. */
  onElicit?: (message: string) =>
    | { action: "accept" | "decline" | "cancel"; content?: Record<string, string | number | boolean> }
    | Promise<{
        action: "accept" | "decline" | "cancel";
        content?: Record<string, string | number | boolean>;
      }>;
  env?: Record<string, string>;
}

type AnyClient = {
  callTool(
    p: { name: string; arguments: Record<string, unknown> },
    s?: unknown,
    o?: unknown,
  ): Promise<unknown>;
  listTools(): Promise<unknown>;
  listResources(p?: { cursor?: string }): Promise<unknown>;
  complete(p: Record<string, unknown>): Promise<unknown>;
  listResourceTemplates(): Promise<unknown>;
  readResource(p: { uri: string }): Promise<unknown>;
  close(): Promise<void>;
};

function textOf(r: Record<string, unknown>): string {
  const content = (r.content ?? r.contents ?? []) as Array<{ type?: string; text?: string }>;
  return content.map((c) => c.text ?? "").join("");
}

function wrap(
  era: EraName,
  transport: TransportName,
  client: AnyClient,
  negotiated: () => string | undefined,
): EraClient {
  return {
    era,
    transport,
    negotiated,
    call: async (args, options) => {
      const opts = { timeout: 120_000, ...(options?.signal ? { signal: options.signal } : {}) };
      // SDK v2: callTool(params, options); v1: callTool(params, resultSchema, options).
      const r = (
        era === "modern"
          ? await client.callTool({ name: "scout", arguments: args }, opts)
          : await client.callTool({ name: "scout", arguments: args }, undefined, opts)
      ) as Record<string, unknown>;
      return {
        text: textOf(r),
        isError: r.isError === true,
        ...(r.structuredContent !== undefined ? { structuredContent: r.structuredContent } : {}),
        raw: r,
      };
    },
    callTool: async (name, args) =>
      (await client.callTool({ name, arguments: args })) as Record<string, unknown>,
    listTools: async () => (await client.listTools()) as Record<string, unknown>,
    listResources: async (cursor) =>
      (await (cursor === undefined ? client.listResources() : client.listResources({ cursor }))) as Record<
        string,
        unknown
      >,
    complete: async (uriTemplate, argument, context) => {
      const r = (await client.complete({
        ref: { type: "ref/resource", uri: uriTemplate },
        argument,
        ...(context ? { context: { arguments: context } } : {}),
      })) as { completion: { values: string[]; total?: number; hasMore?: boolean } };
      return r.completion;
    },
    listTemplates: async () => (await client.listResourceTemplates()) as Record<string, unknown>,
    read: async (uri) => {
      const raw = (await client.readResource({ uri })) as Record<string, unknown>;
      return { text: textOf(raw), raw };
    },
    close: () => client.close(),
  };
}

const MODERN_PIN = { versionNegotiation: { mode: { pin: "2026-07-28" as const } } };

function elicitHandler(onElicit: NonNullable<EraOptions["onElicit"]>) {
  return async (request: { params: { message?: string } }) => onElicit(request.params.message ?? "");
}

export async function connectEra(
  era: EraName,
  transport: TransportName,
  target: { url?: string; lab?: LabFleet },
  options: EraOptions = {},
): Promise<EraClient> {
  const info = { name: `scout-test-${era}`, version: "1.0.0" };
  const capabilities = options.onElicit ? { elicitation: { form: {} } } : {};
  const stdioParams = () => ({
    command: process.execPath,
    args: cliArgs(["--stdio"]),
    env: labEnv(target.lab as LabFleet, {
      SCOUT_STATUS_CACHE_TTL: "0",
      SCOUT_LOG_LEVEL: "warn",
      ...options.env,
    }),
    stderr: "pipe" as const,
  });
  if (era === "modern") {
    const client = new ModernClient(info, { ...MODERN_PIN, capabilities });
    if (options.onElicit) client.setRequestHandler("elicitation/create", elicitHandler(options.onElicit));
    const t =
      transport === "http" ? new ModernHttp(new URL(target.url ?? "")) : new ModernStdio(stdioParams());
    await client.connect(t);
    return wrap(era, transport, client as unknown as AnyClient, () => client.getProtocolEra());
  }
  const client = new LegacyClient(info, { capabilities: options.onElicit ? { elicitation: {} } : {} });
  if (options.onElicit) {
    const { ElicitRequestSchema } = await import("@modelcontextprotocol/sdk/types.js");
    client.setRequestHandler(ElicitRequestSchema, elicitHandler(options.onElicit));
  }
  const t = transport === "http" ? new LegacyHttp(new URL(target.url ?? "")) : new LegacyStdio(stdioParams());
  await client.connect(t);
  return wrap(era, transport, client as unknown as AnyClient, () => client.getServerVersion() && "legacy");
}
