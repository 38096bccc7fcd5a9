/**
 * `beam`: upload a local file to a host (when it exists locally) or download to it; with
 * `beam_source`/`beam_target`: copy between two hosts. Over HTTP local paths stay inside
 * SCOUT_BEAM_DIR.
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve as resolveLocal, sep } from "node:path";
import { z } from "zod";
import { ScoutError } from "../../errors.js";
import { copyRemote, download, upload } from "../../ops/transfer.js";
import { refuseConfigWrite } from "../../ops/config-files.js";
import { formatTransfer } from "../format.js";
import { defineMode, type Plan, type PlanEnv, type RunContext } from "../mode.js";
import { parseRemoteSpec, parseTarget } from "../target.js";

interface BeamPlan extends Plan {
  direction: "upload" | "download" | "remote";
  /** Local path (upload/download) or the source `host:/path`. */
  from: { host: string; path: string } | { local: string };
  to: { host: string; path: string } | { local: string };
  host: string;
  path: string;
}

interface Moved {
  bytes: number;
  durationMs: number;
}

function confineLocal(localPath: string, env: PlanEnv): string {
  if (env.transport === "stdio") return resolveLocal(localPath);
  const dir = env.settings.beamDir;
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

/** Throttled progress (at most every 100 ms) so a fast transfer doesn't flood the client. */
function progressReporter(ctx: RunContext): ((bytes: number, total?: number) => void) | undefined {
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

const spell = (s: BeamPlan["from"]): string => ("local" in s ? s.local : `${s.host}:${s.path}`);

export const beamMode = defineMode<BeamPlan, Moved>({
  mode: "beam",
  params: ["target", "beam", "beam_source", "beam_target"],
  output: z.object({
    mode: z.literal("beam"),
    direction: z.enum(["upload", "download", "remote"]),
    source: z.string(),
    destination: z.string(),
    bytes: z.number(),
    durationMs: z.number(),
  }),
  plan(args, env) {
    if (args.beam_source && args.beam_target) {
      const src = parseRemoteSpec(args.beam_source, "beam_source");
      const dst = parseRemoteSpec(args.beam_target, "beam_target");
      return {
        mode: "beam",
        direction: "remote",
        from: src,
        to: dst,
        host: src.host,
        path: src.path,
        targets: [src, dst],
        changes: "remote-to-remote transfers",
      };
    }
    const t = parseTarget(args.target);
    if (t.kind === "hosts") {
      throw new ScoutError("invalid-input", "beam parameter requires a valid host:/path target, not 'hosts'");
    }
    const local = confineLocal(args.beam ?? "", env);
    const remote = { host: t.host, path: t.path };
    const base = { mode: "beam" as const, host: t.host, path: t.path, targets: [remote] };
    if (existsSync(local) && statSync(local).isFile()) {
      return {
        ...base,
        direction: "upload",
        from: { local },
        to: remote,
        changes: "uploads",
        confirm: `Upload ${local} to ${t.host}:${t.path} (overwriting it if it exists)?`,
      };
    }
    return { ...base, direction: "download", from: remote, to: { local } };
  },
  async run(p, ctx) {
    const onProgress = progressReporter(ctx);
    const opts = { signal: ctx.signal, onProgress };
    const fleet = ctx.engine.fleet;
    const { from, to } = p;
    if ("local" in from && !("local" in to)) return upload(fleet.host(to.host), from.local, to.path, opts);
    if ("local" in to && !("local" in from))
      return download(fleet.host(from.host), from.path, to.local, {
        ...opts,
        guardTarget: (path) => refuseConfigWrite(path, ctx.engine),
      });
    if (!("local" in from) && !("local" in to)) {
      return copyRemote(fleet.host(from.host), from.path, fleet.host(to.host), to.path, opts);
    }
    throw new ScoutError("invalid-input", "beam needs one remote side");
  },
  format(r, p) {
    const src = spell(p.from);
    const dst = spell(p.to);
    return {
      mode: "beam",
      host: p.host,
      path: p.path,
      text: formatTransfer({ direction: p.direction, src, dst, bytes: r.bytes, durationMs: r.durationMs }),
      structured: {
        mode: "beam",
        direction: p.direction,
        source: src,
        destination: dst,
        bytes: r.bytes,
        durationMs: Math.round(r.durationMs),
      },
    };
  },
});
