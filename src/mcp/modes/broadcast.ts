/**
 * `targets=[…]`: the same read (or command) on many `host:/path` targets at once. Host patterns and
 * groups expand over the configured aliases (`web-*:/etc/x`, `@web:/etc/x`). A target that fails —
 * unparseable, unknown, refused, a pattern matching nothing — fails alone; the others still answer.
 *
 * For fleets of thousands: at most SCOUT_BROADCAST_CONCURRENCY targets run at once, progress is
 * reported as targets finish, and the outputs kept stay within twice the output cap (later ones
 * keep only their first line and size), so memory is bounded whatever the fleet prints.
 */
import { z } from "zod";
import { ScoutError, errorMessage } from "../../errors.js";
import { runCommand } from "../../ops/exec.js";
import { listDirectory } from "../../ops/list.js";
import { readFile, statPath } from "../../ops/read.js";
import { formatBroadcast, formatCommandResult, formatFileContent } from "../format.js";
import { defineMode, type Plan, type PlanTarget, type RunContext } from "../mode.js";
import { startJobCall } from "../jobs.js";
import { expandTargets } from "../target.js";
import { jobDeps } from "./job.js";

interface BroadcastPlan extends Plan {
  query?: string;
  /** background=true: start the query as a job on every target (a job id of its own each). */
  asJobs?: boolean;
}

interface TargetResult {
  host: string;
  path: string;
  ok: boolean;
  output: string;
  exitCode?: number | null;
  error?: boolean;
  /** Only the first line was kept (memory bound): the size of the whole output. */
  droppedBytes?: number;
  /** background=true: the job started on this target. */
  job?: string;
}

/** What a finished target keeps when the outputs kept so far already reach the memory bound. */
const KEPT_WHEN_DROPPED = 1024;

function question(targets: readonly string[], query: string, sudo: boolean, asJobs: boolean): string {
  const shown = targets.slice(0, 10).join(", ") + (targets.length > 10 ? ", …" : "");
  const what = asJobs ? "Start this command as a background job" : "Run this command";
  return `${what}${sudo ? " as root (sudo)" : ""} on ${targets.length} targets (${shown})?\n\n${query}`;
}

async function one(p: BroadcastPlan, i: number, t: PlanTarget, ctx: RunContext): Promise<TargetResult> {
  const { engine, signal } = ctx;
  const { host, path } = t;
  try {
    if (t.error) throw t.error;
    const refused = ctx.grant.refusal(i);
    if (refused) throw refused;
    const access = engine.fleet.host(host);
    if (p.query !== undefined && p.asJobs) {
      const sudo = p.sudo ? ctx.grant.sudo(host) : undefined;
      const a = await startJobCall(jobDeps(ctx), {
        host,
        path,
        command: p.query,
        ...(sudo ? { sudo } : {}),
      });
      return {
        host,
        path,
        ok: true,
        output: a.text.split("\n", 1)[0] ?? "",
        ...(a.job ? { job: a.job } : {}),
      };
    }
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

/**
 * Runs the targets with at most SCOUT_BROADCAST_CONCURRENCY at once, in order, reporting progress
 * (at most every 100 ms, and at the end) and bounding the outputs kept (see KEPT_WHEN_DROPPED).
 */
async function runBounded(p: BroadcastPlan, outer: RunContext): Promise<TargetResult[]> {
  const total = p.targets.length;
  // SCOUT_REQUEST_TIMEOUT bounds the whole call (a client's own timeout is per call too). A
  // broadcast stops a little before it rather than failing whole: targets in flight are cut,
  // those not started are reported as not reached, and what finished is answered.
  const limitMs = outer.engine.settings.requestTimeoutMs;
  const stop = new AbortController();
  const why = new ScoutError(
    "timeout",
    `not finished within the request deadline (SCOUT_REQUEST_TIMEOUT ${limitMs / 1000} s)`,
    { hint: "Raise SCOUT_REQUEST_TIMEOUT, or send fewer targets per call" },
  );
  const timer = setTimeout(() => stop.abort(why), limitMs - Math.min(5000, limitMs * 0.1));
  timer.unref();
  const ctx: RunContext = { ...outer, signal: AbortSignal.any([outer.signal, stop.signal]) };
  try {
    return await runUntil(p, ctx, total, stop.signal);
  } finally {
    clearTimeout(timer);
  }
}

async function runUntil(
  p: BroadcastPlan,
  ctx: RunContext,
  total: number,
  stopped: AbortSignal,
): Promise<TargetResult[]> {
  const results: TargetResult[] = new Array<TargetResult>(total);
  const keepBytes = 2 * ctx.engine.limits.maxOutputSize;
  let kept = 0;
  let next = 0;
  let done = 0;
  let failed = 0;
  let lastReport = 0;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!ctx.progress || (!force && now - lastReport < 100)) return;
    lastReport = now;
    ctx.progress(done, total, `${done}/${total} targets done${failed ? `, ${failed} failed` : ""}`);
  };
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const t = p.targets[i] as PlanTarget;
      const r = stopped.aborted
        ? {
            host: t.host,
            path: t.path,
            ok: false,
            output: `not reached: ${errorMessage(stopped.reason)}`,
            error: true,
          }
        : await one(p, i, t, ctx);
      const bytes = Buffer.byteLength(r.output);
      if (kept + bytes > keepBytes && bytes > KEPT_WHEN_DROPPED) {
        // Past the bound: keep the first line (for the summary), say how big it was.
        results[i] = {
          ...r,
          output: r.output.slice(0, KEPT_WHEN_DROPPED).split("\n", 1)[0] ?? "",
          droppedBytes: bytes,
        };
      } else {
        results[i] = r;
        kept += bytes;
      }
      done++;
      if (!r.ok) failed++;
      report(done === total);
    }
  };
  const width = Math.max(1, Math.min(ctx.engine.settings.broadcastConcurrency, total));
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

export const broadcastMode = defineMode<BroadcastPlan, TargetResult[]>({
  mode: "broadcast",
  params: ["targets", "query", "sudo", "background"],
  output: z.object({
    mode: z.literal("broadcast"),
    succeeded: z.number(),
    total: z.number(),
    results: z.array(
      z.object({
        target: z.string(),
        ok: z.boolean(),
        exitCode: z.number().nullable().optional(),
        job: z.string().optional(),
      }),
    ),
  }),
  plan(args, env) {
    const raw = args.targets ?? [];
    const targets: PlanTarget[] = expandTargets(raw, env.aliases(), env.settings.hostGroups);
    const q = args.query;
    // Each host gets a job id of its own: two aliases may share one login (and one spool).
    const asJobs = q !== undefined && args.background === true ? { asJobs: true } : {};
    if (q !== undefined && args.background === true) {
      const hosts = targets.filter((t) => !t.error).map((t) => t.host);
      const twice = hosts.find((h, i) => hosts.indexOf(h) !== i);
      if (twice !== undefined) {
        throw new ScoutError(
          "invalid-input",
          `background=true starts one job per host; ${twice} is targeted twice`,
          {
            hint: "Give each host once (one working directory per host), or start the second one separately",
          },
        );
      }
    }
    return {
      mode: "broadcast",
      targets,
      perTarget: true,
      ...asJobs,
      ...(q !== undefined
        ? {
            query: q,
            command: q,
            changes: args.sudo ? "sudo commands" : "commands",
            confirm: question(
              targets.map((t) => (t.error ? t.host : `${t.host}:${t.path}`)),
              q,
              args.sudo,
              args.background === true,
            ),
          }
        : {}),
      ...(args.sudo ? { sudo: true } : {}),
    };
  },
  run: (p, ctx) => runBounded(p, ctx),
  format(results, p, ctx) {
    const text = formatBroadcast(
      results.map((r) => ({
        host: r.host,
        path: r.path,
        ok: r.ok,
        output: r.output,
        ...(r.error ? { error: true } : {}),
        ...(r.droppedBytes !== undefined ? { droppedBytes: r.droppedBytes } : {}),
      })),
      // Within the output cap, and within one MCP message with room for JSON escaping and the
      // structured results (a quarter of the message), or the footer would be cut off.
      {
        maxTotalBytes: Math.min(
          ctx.engine.limits.maxOutputSize,
          Math.floor(ctx.engine.settings.maxMessageSize * 0.6),
        ),
      },
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
          ...(r.job !== undefined ? { job: r.job } : {}),
        })),
      },
      ...(p.asJobs
        ? {
            fleetJobs: {
              started: results.flatMap((r) => (r.job !== undefined ? [r.job] : [])),
              failed: results.filter((r) => r.job === undefined).map((r) => r.host),
            },
          }
        : {}),
    };
  },
});
