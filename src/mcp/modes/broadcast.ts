/**
 * `targets=[…]`: the same read (or command) on many `host:/path` targets at once. A target that
 * fails — unparseable, unknown, refused — fails alone; the others still answer.
 */
import { z } from "zod";
import { ScoutError, errorMessage } from "../../errors.js";
import { runCommand } from "../../ops/exec.js";
import { listDirectory } from "../../ops/list.js";
import { readFile, statPath } from "../../ops/read.js";
import { formatBroadcast, formatCommandResult, formatFileContent } from "../format.js";
import { defineMode, type Plan, type PlanTarget, type RunContext } from "../mode.js";
import { parseRemoteSpec } from "../target.js";

interface BroadcastPlan extends Plan {
  query?: string;
}

interface TargetResult {
  host: string;
  path: string;
  ok: boolean;
  output: string;
  exitCode?: number | null;
  error?: boolean;
}

function question(targets: readonly string[], query: string, sudo: boolean): string {
  const shown = targets.slice(0, 10).join(", ") + (targets.length > 10 ? ", …" : "");
  return `Run this command${sudo ? " as root (sudo)" : ""} on ${targets.length} targets (${shown})?\n\n${query}`;
}

async function one(p: BroadcastPlan, i: number, t: PlanTarget, ctx: RunContext): Promise<TargetResult> {
  const { engine, signal } = ctx;
  const { host, path } = t;
  try {
    if (t.error) throw t.error;
    const refused = ctx.grant.refusal(i);
    if (refused) throw refused;
    const access = engine.fleet.host(host);
    if (p.query !== undefined) {
      const sudo = p.sudo ? ctx.grant.sudo(host) : undefined;
      const r = await runCommand(access, p.query, engine.limits, {
        cwd: path,
        signal,
        ...(sudo ? { sudo } : {}),
      });
      const output = formatCommandResult({
        ...r,
        timeoutMs: engine.limits.commandTimeoutMs,
        maxOutputSize: engine.limits.maxOutputSize,
      });
      return { host, path, ok: r.exitCode === 0 && !r.timedOut, output, exitCode: r.exitCode };
    }
    const r = await readFile(access, path, engine.limits, { signal }).catch(async (e: unknown) => {
      // Not a file: a directory is listed (one more round trip only in that case).
      if (!(e instanceof ScoutError && e.code === "not-a-file")) throw e;
      if ((await statPath(access, path, signal)).type !== "directory") throw e;
      return undefined;
    });
    if (!r) {
      const l = await listDirectory(access, path, engine.limits, { signal });
      return { host, path, ok: true, output: l.text };
    }
    return {
      host,
      path,
      ok: true,
      output: formatFileContent({ ...r, maxFileSize: engine.limits.maxFileSize }),
    };
  } catch (e) {
    return { host, path, ok: false, output: errorMessage(e), error: true };
  }
}

export const broadcastMode = defineMode<BroadcastPlan, TargetResult[]>({
  mode: "broadcast",
  params: ["targets", "query", "sudo"],
  output: z.object({
    mode: z.literal("broadcast"),
    succeeded: z.number(),
    total: z.number(),
    results: z.array(
      z.object({ target: z.string(), ok: z.boolean(), exitCode: z.number().nullable().optional() }),
    ),
  }),
  plan(args) {
    const raw = args.targets ?? [];
    const targets = raw.map((r): PlanTarget => {
      try {
        return parseRemoteSpec(r, "broadcast");
      } catch (e) {
        const error = e instanceof ScoutError ? e : new ScoutError("invalid-input", errorMessage(e));
        return { host: r, path: "", error };
      }
    });
    const q = args.query;
    return {
      mode: "broadcast",
      targets,
      perTarget: true,
      ...(q !== undefined
        ? {
            query: q,
            command: q,
            changes: args.sudo ? "sudo commands" : "commands",
            confirm: question(raw, q, args.sudo),
          }
        : {}),
      ...(args.sudo ? { sudo: true } : {}),
    };
  },
  run: (p, ctx) => Promise.all(p.targets.map((t, i) => one(p, i, t, ctx))),
  format(results, p, ctx) {
    const text = formatBroadcast(
      results.map((r) => ({
        host: r.host,
        path: r.path,
        ok: r.ok,
        output: r.output,
        ...(r.error ? { error: true } : {}),
      })),
      { maxTotalBytes: ctx.engine.limits.maxOutputSize },
    );
    return {
      mode: "broadcast",
      ...(p.query !== undefined ? { command: p.query } : {}),
      ...(p.sudo ? { sudo: true } : {}),
      text,
      structured: {
        mode: "broadcast",
        succeeded: results.filter((r) => r.ok).length,
        total: results.length,
        results: results.map((r) => ({
          target: `${r.host}:${r.path}`,
          ok: r.ok,
          ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
        })),
      },
    };
  },
});
