/** Small pieces several modes share: the single-target plan and structured-answer fields. */
import { z } from "zod";
import { ScoutError } from "../../errors.js";
import type { Plan, ScoutMode } from "../mode.js";
import { parseTarget } from "../target.js";
import { isHostPattern } from "../../config/host-patterns.js";

export interface PathPlan extends Plan {
  host: string;
  path: string;
}

/** `host:/path` of the call, normalized; 'hosts' is not a path. */
export function pathPlan(target: string, mode: ScoutMode): PathPlan {
  const t = parseTarget(target);
  if (t.kind === "hosts") {
    throw new ScoutError("invalid-input", `'hosts' is not a host:/path target (mode ${mode})`);
  }
  if (isHostPattern(t.host)) {
    throw new ScoutError("invalid-input", `'${t.host}' is a host pattern; ${mode} works on one host`, {
      hint: `To reach every matching host, use targets=["${t.host}:${t.path}"] (a broadcast)`,
    });
  }
  return { mode, host: t.host, path: t.path, targets: [{ host: t.host, path: t.path }] };
}

/** Every successful answer names its mode; path modes also their host and path. */
export const located = { host: z.string(), path: z.string() };
