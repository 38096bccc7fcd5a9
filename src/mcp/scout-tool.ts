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

export type ScoutMode =
  "hosts" | "read" | "list" | "tree" | "find" | "command" | "diff" | "broadcast" | "beam" | "resource";

export interface ToolCallContext {
  app: ScoutApp;
  signal: AbortSignal;
  /** Reports transfer progress when the client asked for it. */
  progress?: (done: number, total: number | undefined, message: string) => void;
  /** "stdio" lets beam use any local path; "http" confines it to SCOUT_BEAM_DIR. */
  transport: "stdio" | "http";
}

export interface ToolOutcome {
  result: CallToolResult;
  mode: ScoutMode;
  host?: string;
  path?: string;
  command?: string;
  exitCode?: number | null;
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
    return { result: fail(e, { mode }), mode };
  }
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
  if (args.query !== undefined) app.policy.checkCommand(target.host, args.query);
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
    const r = await runCommand(host, args.query, app.limits, { cwd: target.path, ...opts });
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
      result: ok(text, {
        mode,
        ...base,
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

  const info = await statPath(host, target.path, ctx.signal);
  if (info.type === "directory") {
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
  const r = await readFile(host, target.path, app.limits, opts);
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
  }));
  return {
    mode: "hosts",
    result: ok(formatHostsList(rows), {
      mode: "hosts",
      hosts: rows.map((r) => ({
        name: r.alias,
        address: hostAddress({ ...r, identityFiles: [], identitiesOnly: false, proxyJump: [] }),
        online: r.online,
      })),
    }),
  };
}

async function broadcast(args: ScoutArgs, ctx: ToolCallContext): Promise<ToolOutcome> {
  const { app } = ctx;
  const targets = args.targets ?? [];
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
          app.policy.checkCommand(spec.host, args.query);
          refuseInReadOnly(ctx, "commands");
          const r = await runCommand(access, args.query, app.limits, { cwd: spec.path, signal: ctx.signal });
          const output = formatCommandResult({
            ...r,
            timeoutMs: app.limits.commandTimeoutMs,
            maxOutputSize: app.limits.maxOutputSize,
          });
          return { host, path, ok: r.exitCode === 0 && !r.timedOut, output, exitCode: r.exitCode };
        }
        const info = await statPath(access, spec.path, ctx.signal);
        if (info.type === "directory") {
          const l = await listDirectory(access, spec.path, app.limits, { signal: ctx.signal });
          return { host, path, ok: true, output: l.text };
        }
        const r = await readFile(access, spec.path, app.limits, { signal: ctx.signal });
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
  if (uploading) refuseInReadOnly(ctx, "uploads");
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
