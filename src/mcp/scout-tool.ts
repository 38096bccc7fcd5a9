/**
 * The `scout` tool as a table of modes: which mode a call is (decided from the parameters alone,
 * in the Python original's dispatch order) and, per mode, its plan, handler, formatter and output
 * schema (./modes/). Adding a mode is one entry here and one file there.
 */
import { z } from "zod";
import { ScoutError } from "../errors.js";
import { beamMode } from "./modes/beam.js";
import { broadcastMode } from "./modes/broadcast.js";
import { commandMode } from "./modes/command.js";
import { diffMode } from "./modes/diff.js";
import { findMode } from "./modes/find.js";
import { hostsMode } from "./modes/hosts.js";
import { jobMode } from "./modes/job.js";
import { readMode, treeMode } from "./modes/path.js";
import type { ModeResult, ModeSpec, Plan, PlanEnv, RunContext } from "./mode.js";
import type { ScoutArgs } from "./schema.js";
import { isHostsTarget, parseTarget } from "./target.js";

export type { ScoutMode } from "./mode.js";

/** Every mode a call can be dispatched to ("list" and "resource" are answers, not dispatch targets). */
export const MODES = {
  hosts: hostsMode,
  read: readMode,
  tree: treeMode,
  find: findMode,
  diff: diffMode,
  command: commandMode,
  broadcast: broadcastMode,
  beam: beamMode,
  job: jobMode,
};

export type DispatchMode = keyof typeof MODES;

/** Which mode a call will run in, decided from the parameters alone (for metrics and audit). */
export function modeOf(args: ScoutArgs): DispatchMode {
  if (args.beam_source || args.beam_target || args.beam) return "beam";
  if (args.targets && args.targets.length > 0) return "broadcast";
  if (args.job !== undefined || args.background) return "job";
  if (isHostsTarget(args.target)) return "hosts";
  if (args.find) return "find";
  if (args.diff !== undefined || args.diff_content !== undefined) return "diff";
  if (args.query !== undefined) return "command";
  if (args.tree) return "tree";
  return "read";
}

const E1 =
  "Cannot use both 'beam' and 'beam_source/beam_target'. Use 'beam' for local transfers or 'beam_source/beam_target' for remote-to-remote.";

/** Parameter combinations no mode accepts (checked before any mode plans). */
function checkCombination(args: ScoutArgs): void {
  if (args.beam && (args.beam_source || args.beam_target)) throw new ScoutError("invalid-input", E1);
  if (args.beam_source && !args.beam_target) {
    throw new ScoutError("invalid-input", "beam_source requires beam_target to be specified.");
  }
  if (args.beam_target && !args.beam_source) {
    throw new ScoutError("invalid-input", "beam_target requires beam_source to be specified.");
  }
  if (args.background && args.targets && args.targets.length > 0 && args.query === undefined) {
    throw new ScoutError("invalid-input", "background=true with targets needs a query: the command to start");
  }
  if (args.sudo && args.query === undefined) {
    throw new ScoutError("invalid-input", "sudo=true needs a query: it runs that command as root");
  }
}

/** A call, planned: its mode's spec bound to its plan, ready for the guard and then to run. */
export interface PlannedCall {
  readonly plan: Plan;
  run(ctx: RunContext): Promise<ModeResult>;
}

/** Plans a call; throws ScoutError("invalid-input") for arguments no mode accepts. */
export function planCall(args: ScoutArgs, env: PlanEnv): PlannedCall {
  checkCombination(args);
  const spec = MODES[modeOf(args)] as unknown as ModeSpec<Plan, unknown>;
  const plan = spec.plan(args, env);
  return {
    plan,
    run: async (ctx) => spec.format(await spec.run(plan, ctx), plan, ctx),
  };
}

/** Host, path and command of a call that failed before or while planning, for its audit record. */
export function auditFieldsOf(
  args: ScoutArgs,
): Pick<ModeResult, "host" | "path" | "command" | "sudo" | "job" | "jobAction"> {
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
    ...(args.job !== undefined ? { job: args.job } : {}),
    ...(args.job !== undefined || args.background
      ? { jobAction: args.job === undefined ? "start" : (args.job_action ?? "status") }
      : {}),
  };
}

/** What a failed call's structuredContent is (clients validate error results against it too). */
const errorOutput = z.object({
  mode: z.string(),
  error: z.object({ code: z.string(), message: z.string() }),
});

/**
 * The tool's outputSchema: one object whose `mode` names the variant, with every field any mode
 * returns (each mode's own zod schema, merged; a field two modes shape differently has its types).
 * One flat object instead of an anyOf per mode keeps tools/list small (a model reads it).
 */
export function scoutOutputSchema(): Record<string, unknown> {
  type Obj = { properties?: Record<string, unknown>; anyOf?: Obj[] };
  const flatten = (o: Obj): Obj[] => (o.anyOf ? o.anyOf.flatMap(flatten) : [o]);
  const branches = [...Object.values(MODES).map((m) => m.output), errorOutput].flatMap((s) =>
    flatten(z.toJSONSchema(s) as Obj),
  );
  const properties: Record<string, unknown> = {};
  const seen = new Map<string, Set<string>>();
  for (const b of branches) {
    for (const [k, v] of Object.entries(b.properties ?? {})) {
      const variants = seen.get(k) ?? new Set<string>();
      variants.add(JSON.stringify(v));
      seen.set(k, variants);
    }
  }
  for (const [k, variants] of seen) {
    const all = [...variants].map((v) => JSON.parse(v) as Record<string, unknown>);
    // Two modes type it differently (the hosts list of `hosts` and of a job listing): its types.
    properties[k] = all.length === 1 ? all[0] : { type: [...new Set(all.map((v) => v.type).flat())] };
  }
  properties.mode = { type: "string" };
  return { type: "object", properties, required: ["mode"] };
}
