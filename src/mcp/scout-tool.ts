/**
 * The `scout` tool: validate the parameter combination, parse targets (before any SSH traffic),
 * dispatch to one operation, and format the answer as the Python Scout did, plus
 * structuredContent for programs. Dispatch order follows the original.
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve as resolveLocal, sep } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ScoutApp } from "../app.js";
import { ScoutError, errorMessage } from "../errors.js";
import { readFile, statPath } from "../ops/read.js";
import { listDirectory } from "../ops/list.js";
import { find as findFiles, tree as treeOf } from "../ops/walk.js";
import { runCommand } from "../ops/exec.js";
import { copyRemote, download, upload } from "../ops/transfer.js";
import { diffTexts } from "../ops/diff.js";
import { hostAddress } from "../config/host.js";
import { parseRemoteSpec, parseTarget } from "./target.js";
import {
  errorText,
  formatBroadcast,
  formatCommandResult,
  formatContentMatches,
  formatDiffIdentical,
  formatFileContent,
  formatFindResult,
  formatHostsList,
  formatRange,
  formatTransfer,
} from "./format.js";
import type { ScoutArgs } from "./schema.js";
import type { ConfirmAnswer } from "../guard/confirm.js";
import { sudoPasswordFor } from "../guard/sudo.js";

export type ScoutMode =
  "hosts" | "read" | "list" | "tree" | "find" | "command" | "diff" | "broadcast" | "beam" | "resource";

export interface ToolCallContext {
  app: ScoutApp;
  signal: AbortSignal;
  /** Reports transfer progress when the client asked for it. */
  progress?: (done: number, total: number | undefined, message: string) => void;
  /** "stdio" lets beam use any local path; "http" confines it to SCOUT_BEAM_DIR. */
  transport: "stdio" | "http";
  /** Asks the user (MCP elicitation) when SCOUT_CONFIRM_COMMANDS is on; absent = can't ask. */
  confirm?: (message: string) => Promise<ConfirmAnswer>;
}

export interface ToolOutcome {
  result: CallToolResult;
  mode: ScoutMode;
  host?: string;
  path?: string;
  command?: string;
  exitCode?: number | null;
  sudo?: boolean;
}

type Structured = Record<string, unknown>;

function ok(text: string, structured: Structured): CallToolResult {
  return { content: [{ type: "text", text }], structuredContent: structured };
}

function fail(e: unknown, structured: Structured = {}): CallToolResult {
  const code = e instanceof ScoutError ? e.code : "error";
  return {
    content: [{ type: "text", text: errorText(e) }],
    structuredContent: { ...structured, error: { code, message: errorMessage(e) } },
    isError: true,
  };
}

const E1 =
  "Cannot use both 'beam' and 'beam_source/beam_target'. Use 'beam' for local transfers or 'beam_source/beam_target' for remote-to-remote.";

/** Which mode a call will run in, decided from the parameters alone (for metrics and audit). */
export function modeOf(args: ScoutArgs): ScoutMode {
  if (args.beam_source || args.beam_target || args.beam) return "beam";
  if (args.targets && args.targets.length > 0) return "broadcast";
  if (args.target.trim().toLowerCase() === "hosts") return "hosts";
  if (args.find) return "find";
  if (args.diff !== undefined || args.diff_content !== undefined) return "diff";
  if (args.query !== undefined) return "command";
  if (args.tree) return "tree";
  return "read";
}

export async function runScoutTool(args: ScoutArgs, ctx: ToolCallContext): Promise<ToolOutcome> {
  const mode = modeOf(args);
  try {
    return await dispatch(args, ctx, mode);
  } catch (e) {
    return { result: fail(e, { mode }), mode, ...auditFields(args) };
  }
}

/** Host, path and command of a failed call, best effort, so that its audit record names them. */
function auditFields(args: ScoutArgs): Pick<ToolOutcome, "host" | "path" | "command" | "sudo"> {
  let where: { host?: string; path?: string } = {};
  try {
    const t = parseTarget(args.beam_source ?? args.target);
    if (t.kind === "path") where = { host: t.host, path: t.path };
  } catch {
    where = {}; // unparseable target: the error itself says so
  }
  return {
    ...where,
    ...(args.query !== undefined ? { command: args.query } : {}),
    ...(args.sudo ? { sudo: true } : {}),
  };
}

async function dispatch(args: ScoutArgs, ctx: ToolCallContext, mode: ScoutMode): Promise<ToolOutcome> {
  const { app } = ctx;
  if (args.beam && (args.beam_source || args.beam_target)) throw new ScoutError("invalid-input", E1);
  if (args.beam_source && !args.beam_target) {
    throw new ScoutError("invalid-input", "beam_source requires beam_target to be specified.");
  }
  if (args.beam_target && !args.beam_source) {
    throw new ScoutError("invalid-input", "beam_target requires beam_source to be specified.");
  }
  if (args.sudo) {
    if (args.query === undefined) {
      throw new ScoutError("invalid-input", "sudo=true needs a query: it runs that command as root");
    }
    refuseInReadOnly(ctx, "sudo commands");
  }
  if (args.beam_source && args.beam_target) {
    refuseInReadOnly(ctx, "remote-to-remote transfers");
    return remoteToRemote(args.beam_source, args.beam_target, ctx);
  }
  if (args.targets && args.targets.length > 0) return broadcast(args, ctx);

  const target = parseTarget(args.target);
  if (target.kind === "hosts") {
    if (args.beam) {
      throw new ScoutError("invalid-input", "beam parameter requires a valid host:/path target, not 'hosts'");
    }
    return hostsList(ctx);
  }
  const host = app.fleet.host(target.host); // unknown host → error listing the available ones
  app.policy.checkPath(target.host, target.path);
  if (args.query !== undefined) app.policy.checkCommand(target.host, policyCommand(args));
  const base = { host: target.host, path: target.path };
  const opts = { signal: ctx.signal };

  if (args.beam) return beamLocal(args.beam, target.host, target.path, ctx);

  if (args.find) {
    const r = await findFiles(host, target.path, args.find, app.limits, { depth: args.depth ?? 5, ...opts });
    return {
      mode,
      ...base,
      result: ok(formatFindResult(r.matches, args.find, target.path, r.truncated), {
        mode,
        ...base,
        pattern: args.find,
        matches: r.matches,
        truncated: r.truncated,
      }),
    };
  }

  if (args.diff !== undefined) {
    const other = parseRemoteSpec(args.diff, "diff");
    const otherHost = app.fleet.host(other.host);
    app.policy.checkPath(other.host, other.path);
    const [a, b] = await Promise.all([
      readFile(host, target.path, app.limits, opts),
      readFile(otherHost, other.path, app.limits, opts),
    ]);
    for (const [side, r] of [
      [`${target.host}:${target.path}`, a],
      [`${other.host}:${other.path}`, b],
    ] as const) {
      if (r.binary) throw new ScoutError("invalid-input", `Cannot diff binary file ${side}`);
    }
    const d = diffTexts(target.path, a.content, other.path, b.content);
    const truncated = a.truncated || b.truncated;
    const note = truncated ? `\n[compared only the first ${app.limits.maxFileSize} bytes of each file]` : "";
    const text = d.identical
      ? formatDiffIdentical(target.host, target.path, other.host, other.path) + note
      : d.unified + note;
    return {
      mode,
      ...base,
      result: ok(text, {
        mode,
        ...base,
        other: `${other.host}:${other.path}`,
        identical: d.identical,
        truncated,
      }),
    };
  }

  if (args.diff_content !== undefined) {
    const r = await readFile(host, target.path, app.limits, opts);
    if (r.binary)
      throw new ScoutError("invalid-input", `Cannot diff binary file ${target.host}:${target.path}`);
    const d = diffTexts("expected", args.diff_content, target.path, r.content);
    const text = d.identical ? formatContentMatches(target.path) : d.unified;
    return {
      mode,
      ...base,
      result: ok(text, { mode, ...base, identical: d.identical, truncated: r.truncated }),
    };
  }

  if (args.query !== undefined) {
    refuseInReadOnly(ctx, "commands");
    await confirmOrRefuse(
      ctx,
      `Run this command on ${target.host}${args.sudo ? " as root (sudo)" : ""} in ${target.path}?\n\n${args.query}`,
    );
    const sudo = args.sudo
      ? await sudoPasswordFor(target.host, app.policy, app.settings.sudoPasswordFile)
      : undefined;
    const r = await runCommand(host, args.query, app.limits, {
      cwd: target.path,
      ...opts,
      ...(sudo ? { sudo } : {}),
    });
    const text = formatCommandResult({
      ...r,
      timeoutMs: app.limits.commandTimeoutMs,
      maxOutputSize: app.limits.maxOutputSize,
    });
    return {
      mode,
      ...base,
      command: args.query,
      exitCode: r.exitCode,
      ...(args.sudo ? { sudo: true } : {}),
      result: ok(text, {
        mode,
        ...base,
        ...(args.sudo ? { sudo: true } : {}),
        exitCode: r.exitCode,
        signal: r.signal,
        timedOut: r.timedOut,
        stdoutTruncated: r.stdoutTruncated,
        stderrTruncated: r.stderrTruncated,
        durationMs: Math.round(r.durationMs),
      }),
    };
  }

  if (args.tail !== undefined || args.offset !== undefined || args.length !== undefined) {
    const r = await readFile(host, target.path, app.limits, {
      ...opts,
      ...(args.tail !== undefined ? { tail: args.tail } : {}),
      ...(args.offset !== undefined || args.length !== undefined
        ? { offset: args.offset ?? 0, length: args.length ?? app.limits.maxFileSize }
        : {}),
    });
    return {
      mode: "read",
      ...base,
      result: ok(formatRange(r), {
        mode: "read",
        ...base,
        kind: "file",
        size: r.size,
        binary: r.binary,
        truncated: r.truncated,
        ...(r.range ? { range: r.range } : {}),
        ...(r.tailLines !== undefined ? { tailLines: r.tailLines } : {}),
      }),
    };
  }

  // A plain read goes straight to readFile (its stat and open are pipelined: 2 round trips for a
  // warm small file); only when that says "not a file" does a stat decide whether to list.
  let fileRead: Awaited<ReturnType<typeof readFile>> | undefined;
  let isDirectory: boolean;
  if (args.tree) {
    isDirectory = (await statPath(host, target.path, ctx.signal)).type === "directory";
  } else {
    try {
      fileRead = await readFile(host, target.path, app.limits, opts);
      isDirectory = false;
    } catch (e) {
      if (!(e instanceof ScoutError && e.code === "not-a-file")) throw e;
      isDirectory = (await statPath(host, target.path, ctx.signal)).type === "directory";
      if (!isDirectory) throw e;
    }
  }
  if (isDirectory) {
    if (args.tree) {
      const t = await treeOf(host, target.path, app.limits, { depth: args.depth ?? 3, ...opts });
      return {
        mode: "tree",
        ...base,
        result: ok(t.text, { mode: "tree", ...base, kind: "directory", truncated: t.truncated }),
      };
    }
    const l = await listDirectory(host, target.path, app.limits, opts);
    return {
      mode: "list",
      ...base,
      result: ok(l.text, { mode: "list", ...base, kind: "directory", entries: l.total, omitted: l.omitted }),
    };
  }
  const r = fileRead ?? (await readFile(host, target.path, app.limits, opts));
  return {
    mode: "read",
    ...base,
    result: ok(formatFileContent({ ...r, maxFileSize: app.limits.maxFileSize }), {
      mode: "read",
      ...base,
      kind: "file",
      size: r.size,
      binary: r.binary,
      truncated: r.truncated,
    }),
  };
}

async function hostsList(ctx: ToolCallContext): Promise<ToolOutcome> {
  const hosts = ctx.app.registry.list();
  const status = await ctx.app.status.status(hosts);
  const rows = hosts.map((h) => ({
    alias: h.alias,
    user: h.user,
    hostname: h.hostname,
    port: h.port,
    online: status.get(h.alias) ?? false,
    ...(h.configError !== undefined ? { configError: h.configError } : {}),
  }));
  return {
    mode: "hosts",
    result: ok(formatHostsList(rows), {
      mode: "hosts",
      hosts: rows.map((r) => ({
        name: r.alias,
        address: hostAddress({ ...r, identityFiles: [], identitiesOnly: false, proxyJump: [] }),
        online: r.online,
        ...(r.configError !== undefined ? { configError: r.configError } : {}),
      })),
    }),
  };
}

async function broadcast(args: ScoutArgs, ctx: ToolCallContext): Promise<ToolOutcome> {
  const { app } = ctx;
  const targets = args.targets ?? [];
  if (args.query !== undefined && !app.settings.readOnly) {
    await confirmOrRefuse(
      ctx,
      `Run this command${args.sudo ? " as root (sudo)" : ""} on ${targets.length} targets (${targets
        .slice(0, 10)
        .join(", ")}${targets.length > 10 ? ", …" : ""})?\n\n${args.query}`,
    );
  }
  const results = await Promise.all(
    targets.map(async (raw) => {
      let host = raw;
      let path = "";
      try {
        const spec = parseRemoteSpec(raw, "broadcast");
        host = spec.host;
        path = spec.path;
        const access = app.fleet.host(spec.host);
        app.policy.checkPath(spec.host, spec.path);
        if (args.query !== undefined) {
          app.policy.checkCommand(spec.host, policyCommand(args));
          refuseInReadOnly(ctx, "commands");
          const sudo = args.sudo
            ? await sudoPasswordFor(spec.host, app.policy, app.settings.sudoPasswordFile)
            : undefined;
          const r = await runCommand(access, args.query, app.limits, {
            cwd: spec.path,
            signal: ctx.signal,
            ...(sudo ? { sudo } : {}),
          });
          const output = formatCommandResult({
            ...r,
            timeoutMs: app.limits.commandTimeoutMs,
            maxOutputSize: app.limits.maxOutputSize,
          });
          return { host, path, ok: r.exitCode === 0 && !r.timedOut, output, exitCode: r.exitCode };
        }
        const r = await readFile(access, spec.path, app.limits, { signal: ctx.signal }).catch(
          async (e: unknown) => {
            // Not a file: a directory is listed (one more round trip only in that case).
            if (!(e instanceof ScoutError && e.code === "not-a-file")) throw e;
            if ((await statPath(access, spec.path, ctx.signal)).type !== "directory") throw e;
            return undefined;
          },
        );
        if (!r) {
          const l = await listDirectory(access, spec.path, app.limits, { signal: ctx.signal });
          return { host, path, ok: true, output: l.text };
        }
        return {
          host,
          path,
          ok: true,
          output: formatFileContent({ ...r, maxFileSize: app.limits.maxFileSize }),
        };
      } catch (e) {
        return { host, path, ok: false, output: errorMessage(e), error: true };
      }
    }),
  );
  const text = formatBroadcast(
    results.map((r) => ({
      host: r.host,
      path: r.path,
      ok: r.ok,
      output: r.output,
      ...(r.error ? { error: true } : {}),
    })),
    { maxTotalBytes: app.limits.maxOutputSize },
  );
  const succeeded = results.filter((r) => r.ok).length;
  return {
    mode: "broadcast",
    ...(args.query !== undefined ? { command: args.query } : {}),
    ...(args.sudo ? { sudo: true } : {}),
    result: ok(text, {
      mode: "broadcast",
      succeeded,
      total: results.length,
      results: results.map((r) => ({
        target: `${r.host}:${r.path}`,
        ok: r.ok,
        ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
      })),
    }),
  };
}

/** What the policy's command rules see: a sudo call is `sudo <query>`. */
function policyCommand(args: ScoutArgs): string {
  const q = args.query ?? "";
  return args.sudo ? `sudo ${q}` : q;
}

/** SCOUT_CONFIRM_COMMANDS: the user must accept before anything runs; every other answer refuses. */
async function confirmOrRefuse(ctx: ToolCallContext, question: string): Promise<void> {
  if (!ctx.app.settings.confirmCommands) return;
  let answer: ConfirmAnswer = "unsupported";
  if (ctx.confirm) {
    try {
      answer = await ctx.confirm(question);
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      if (!/does not support/i.test(errorMessage(e))) {
        throw new ScoutError(
          "refused",
          `Asking the user for confirmation failed (${errorMessage(e)}); nothing was run`,
        );
      }
      answer = "unsupported";
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

function refuseInReadOnly(ctx: ToolCallContext, what: string): void {
  if (ctx.app.settings.readOnly) {
    throw new ScoutError("refused", `Read-only mode: ${what} are disabled`, {
      hint: "Reads, listings, find and diff still work; unset SCOUT_READ_ONLY to allow changes",
    });
  }
}

function confineLocal(localPath: string, ctx: ToolCallContext): string {
  if (ctx.transport === "stdio") return resolveLocal(localPath);
  const dir = ctx.app.settings.beamDir;
  if (!dir) {
    throw new ScoutError("refused", "Local transfers over HTTP are disabled", {
      hint: "Set SCOUT_BEAM_DIR to a directory that beam may read and write",
    });
  }
  const root = resolveLocal(dir);
  const full = isAbsolute(localPath) ? resolveLocal(localPath) : resolveLocal(root, localPath);
  if (full !== root && !full.startsWith(root + sep)) {
    throw new ScoutError("refused", `Local path ${localPath} is outside SCOUT_BEAM_DIR (${root})`, {
      hint: "Use a path inside SCOUT_BEAM_DIR",
    });
  }
  return full;
}

async function beamLocal(localRaw: string, alias: string, remotePath: string, ctx: ToolCallContext) {
  const local = confineLocal(localRaw, ctx);
  const host = ctx.app.fleet.host(alias);
  const onProgress = progressReporter(ctx);
  const uploading = existsSync(local) && statSync(local).isFile();
  if (uploading) {
    refuseInReadOnly(ctx, "uploads");
    await confirmOrRefuse(ctx, `Upload ${local} to ${alias}:${remotePath} (overwriting it if it exists)?`);
  }
  const r = uploading
    ? await upload(host, local, remotePath, { signal: ctx.signal, onProgress })
    : await download(host, remotePath, local, { signal: ctx.signal, onProgress });
  const direction = uploading ? "upload" : "download";
  const src = uploading ? local : `${alias}:${remotePath}`;
  const dst = uploading ? `${alias}:${remotePath}` : local;
  return {
    mode: "beam" as const,
    host: alias,
    path: remotePath,
    result: ok(formatTransfer({ direction, src, dst, bytes: r.bytes, durationMs: r.durationMs }), {
      mode: "beam",
      direction,
      source: src,
      destination: dst,
      bytes: r.bytes,
      durationMs: Math.round(r.durationMs),
    }),
  };
}

async function remoteToRemote(
  sourceRaw: string,
  targetRaw: string,
  ctx: ToolCallContext,
): Promise<ToolOutcome> {
  const src = parseRemoteSpec(sourceRaw, "beam_source");
  const dst = parseRemoteSpec(targetRaw, "beam_target");
  const srcHost = ctx.app.fleet.host(src.host);
  const dstHost = ctx.app.fleet.host(dst.host);
  ctx.app.policy.checkPath(src.host, src.path);
  ctx.app.policy.checkPath(dst.host, dst.path);
  const r = await copyRemote(srcHost, src.path, dstHost, dst.path, {
    signal: ctx.signal,
    onProgress: progressReporter(ctx),
  });
  const from = `${src.host}:${src.path}`;
  const to = `${dst.host}:${dst.path}`;
  return {
    mode: "beam",
    host: src.host,
    path: src.path,
    result: ok(
      formatTransfer({ direction: "remote", src: from, dst: to, bytes: r.bytes, durationMs: r.durationMs }),
      {
        mode: "beam",
        direction: "remote",
        source: from,
        destination: to,
        bytes: r.bytes,
        durationMs: Math.round(r.durationMs),
      },
    ),
  };
}

/** Throttled progress (at most every 100 ms) so a fast transfer doesn't flood the client. */
function progressReporter(ctx: ToolCallContext): ((bytes: number, total?: number) => void) | undefined {
  const report = ctx.progress;
  if (!report) return undefined;
  let last = 0;
  return (bytes, total) => {
    const now = performance.now();
    if (now - last < 100 && bytes !== total) return;
    last = now;
    report(bytes, total, `${bytes} bytes`);
  };
}
