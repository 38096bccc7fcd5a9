/**
 * Background jobs: `query=…, background=true` starts the command as a durable job on the host
 * (authorized exactly as a foreground command: read-only, policy, confirmation, sudo); `job=…`
 * reads one (`host/id`: status, output, wait, cancel) or lists them (a host or a glob). The work
 * is in ../jobs.ts and src/ops/jobs/.
 */
import { z } from "zod";
import { ScoutError } from "../../errors.js";
import {
  parseJobRequest,
  runJobRequest,
  startJobCall,
  type JobAnswer,
  type JobDeps,
  type JobRequest,
} from "../jobs.js";
import { defineMode, type Plan, type RunContext } from "../mode.js";
import { pathPlan } from "./common.js";

type JobPlan = Plan & ({ start: { host: string; path: string; command: string } } | { request: JobRequest });

const jobShape = z.object({
  handle: z.string(),
  host: z.string(),
  id: z.string(),
  state: z.enum(["starting", "running", "exited", "killed", "cancelled", "lost"]),
  exitCode: z.number().nullable(),
  signal: z.string().optional(),
  command: z.string(),
  cwd: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  pid: z.number().optional(),
  sudo: z.boolean().optional(),
  outputBytes: z.number(),
  capBytes: z.number(),
  droppedBytes: z.number().optional(),
});

export function jobDeps(ctx: RunContext): JobDeps {
  const { engine } = ctx;
  return {
    host: (alias) => engine.fleet.host(alias),
    aliases: () => engine.registry.list().map((h) => h.alias),
    limits: engine.limits,
    settings: engine.settings,
    signal: ctx.signal,
    ...(ctx.progress ? { progress: ctx.progress } : {}),
  };
}

export const jobMode = defineMode<JobPlan, JobAnswer>({
  mode: "job",
  params: ["target", "query", "sudo", "background", "job", "job_action", "wait", "tail", "offset", "length"],
  output: z.object({
    mode: z.literal("job"),
    action: z.enum(["start", "status", "output", "wait", "cancel", "result", "list"]),
    job: jobShape.optional(),
    outcome: z.enum(["terminated", "killed", "already-ended", "lost"]).optional(),
    output: z
      .object({
        offset: z.number(),
        nextOffset: z.number(),
        bytes: z.number().optional(),
        truncated: z.boolean(),
        binary: z.boolean().optional(),
        followed: z.boolean().optional(),
      })
      .optional(),
    hosts: z
      .array(
        z.object({
          host: z.string(),
          jobs: z.array(jobShape).optional(),
          removed: z.number().optional(),
          error: z.string().optional(),
        }),
      )
      .optional(),
  }),
  plan(args) {
    if (args.job !== undefined) {
      if (args.query !== undefined || args.background) {
        throw new ScoutError(
          "invalid-input",
          "Use either job (an existing job) or query with background=true (a new one)",
        );
      }
      const request = parseJobRequest(args);
      // Job reads are checked against the host lists (unknown or denied hosts fail in run); a
      // cancel changes the host, so read-only mode refuses it.
      return {
        mode: "job",
        targets: [],
        request,
        ...(request.action === "cancel" ? { changes: "job cancels" } : {}),
      };
    }
    if (args.query === undefined) {
      throw new ScoutError("invalid-input", "background=true needs a query: the command to start as a job");
    }
    const base = pathPlan(args.target, "job");
    const command = args.query;
    return {
      ...base,
      mode: "job",
      start: { host: base.host, path: base.path, command },
      command,
      ...(args.sudo ? { sudo: true } : {}),
      changes: args.sudo ? "sudo commands" : "commands",
      confirm: `Start this command as a background job on ${base.host}${args.sudo ? " as root (sudo)" : ""} in ${base.path}?\n\n${command}`,
    };
  },
  run(p, ctx) {
    if ("start" in p) {
      const sudo = p.sudo ? ctx.grant.sudo(p.start.host) : undefined;
      return startJobCall(jobDeps(ctx), { ...p.start, ...(sudo ? { sudo } : {}) });
    }
    return runJobRequest(jobDeps(ctx), p.request);
  },
  format(a, p) {
    return {
      mode: "job",
      ...(a.info ? { jobInfo: a.info } : {}),
      text: a.text,
      structured: a.structured,
      ...(a.host !== undefined ? { host: a.host } : {}),
      ...(a.path !== undefined ? { path: a.path } : {}),
      ...(a.command !== undefined ? { command: a.command } : {}),
      ...(a.exitCode !== undefined ? { exitCode: a.exitCode } : {}),
      ...(p.sudo ? { sudo: true } : {}),
      ...(a.job !== undefined ? { job: a.job } : {}),
      jobAction: a.action,
      ...(a.list ? { jobList: a.list } : {}),
    };
  },
});
