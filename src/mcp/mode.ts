/**
 * What one mode of the `scout` tool is: a plan (parse and validate the arguments, name every host,
 * path and command the call will touch, before any SSH traffic), a handler (run the plan through
 * ops), a formatter (the text a model reads) and an output schema (the structuredContent a program
 * reads). The guard authorizes a plan without knowing the modes; the table lives in scout-tool.ts.
 */
import type { z } from "zod";
import type { Settings } from "../config/settings.js";
import type { HostRegistry } from "../config/registry.js";
import type { ScoutError } from "../errors.js";
import type { JobInfo } from "../ops/jobs/jobs.js";
import type { Limits } from "../ops/limits.js";
import type { HostStatusCache } from "../ops/status.js";
import type { Fleet } from "../ssh/fleet.js";
import type { ResourceLinkBlock } from "./format.js";
import type { ScoutArgs } from "./schema.js";

export type ScoutMode =
  | "hosts"
  | "read"
  | "list"
  | "tree"
  | "find"
  | "command"
  | "diff"
  | "broadcast"
  | "beam"
  | "job"
  | "resource";

/** The engine the modes and resources work with (the composition root builds it). */
export interface ScoutEngine {
  readonly settings: Settings;
  readonly registry: HostRegistry;
  readonly fleet: Fleet;
  readonly status: HostStatusCache;
  readonly limits: Limits;
  readonly version: string;
}

/** What a plan may depend on besides the arguments. */
export interface PlanEnv {
  settings: Settings;
  /** "stdio" lets beam use any local path; "http" confines it to SCOUT_BEAM_DIR. */
  transport: "stdio" | "http";
  /** The configured aliases, in order: host patterns in broadcast targets expand over them. */
  aliases(): readonly string[];
}

/** One place a call touches: the host must exist and the path pass the policy. */
export interface PlanTarget {
  host: string;
  path: string;
  /** The target could not even be parsed (broadcast reports it for that target alone). */
  error?: ScoutError;
}

/** Everything the guard needs to authorize a call, decided from the arguments alone. */
export interface Plan {
  mode: ScoutMode;
  targets: PlanTarget[];
  /** The shell command the call runs on every target (checked against the command policy). */
  command?: string;
  sudo?: boolean;
  /** What the call changes ("commands", "uploads"…): refused in read-only mode. */
  changes?: string;
  /** The question a user must accept first when SCOUT_CONFIRM_COMMANDS is on. */
  confirm?: string;
  /**
   * Broadcast: a target that is refused fails alone and the others still run. Otherwise the
   * first refusal refuses the whole call.
   */
  perTarget?: boolean;
}

export interface SudoPassword {
  /** undefined: no password configured; run `sudo -n`. */
  password: string | undefined;
  /** Where it came from, for error messages. */
  source: string;
}

/** What the guard granted: per-target refusals (perTarget plans) and sudo passwords. */
export interface Grant {
  refusal(target: number): ScoutError | undefined;
  sudo(host: string): SudoPassword | undefined;
}

export interface RunContext {
  engine: ScoutEngine;
  signal: AbortSignal;
  transport: "stdio" | "http";
  grant: Grant;
  /** Reports transfer progress when the client asked for it. */
  progress?: (done: number, total: number | undefined, message: string) => void;
}

/** A finished call: the text for the model, the structured answer, and what the audit names. */
export interface ModeResult {
  mode: ScoutMode;
  text: string;
  structured: Record<string, unknown>;
  /** resource_link blocks after the text (listings, trees, find), sent to clients that know them. */
  links?: ResourceLinkBlock[];
  host?: string;
  path?: string;
  command?: string;
  exitCode?: number | null;
  sudo?: boolean;
  /** Job calls: the handle `host/id` and what was done with it (start, status, cancel…). */
  job?: string;
  jobAction?: string;
  /**
   * The one job the answer is about, as just read: a command that outlived SCOUT_JOB_AFTER goes
   * on as this job (a task-capable client gets a task); task polls map its state. Not sent.
   */
  jobInfo?: JobInfo;
  /** A job listing, per host (tasks of a broadcast read their jobs' states from it). */
  jobList?: Array<{ host: string; jobs?: JobInfo[]; error?: Error }>;
  /** A broadcast started as jobs (`background=true`): the handles started, the hosts not. */
  fleetJobs?: { started: string[]; failed: string[] };
}

export interface ModeSpec<P extends Plan = Plan, D = unknown> {
  mode: ScoutMode;
  /** The parameters this mode reads (the rest of the flat input schema is ignored by it). */
  params: readonly (keyof ScoutArgs)[];
  /** The structuredContent of a successful answer (advertised as the tool's outputSchema). */
  output: z.ZodType;
  plan(args: ScoutArgs, env: PlanEnv): P;
  run(plan: P, ctx: RunContext): Promise<D>;
  format(data: D, plan: P, ctx: RunContext): ModeResult;
}

/** Identity helper that keeps each mode's plan and data types checked against each other. */
export function defineMode<P extends Plan, D>(spec: ModeSpec<P, D>): ModeSpec<P, D> {
  return spec;
}
