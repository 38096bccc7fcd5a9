/**
 * `query="…"`: a shell command on one host, in the target directory (optionally as root). With
 * SCOUT_JOB_AFTER it starts as a durable job instead, answered inline when it ends in time.
 */
import { StringDecoder } from "node:string_decoder";
import { z } from "zod";
import { runCommand } from "../../ops/exec.js";
import { formatCommandResult } from "../format.js";
import { commandAsJob, type JobAnswer } from "../jobs.js";
import { LiveOutput } from "../live-output.js";
import { defineMode } from "../mode.js";
import { located, pathPlan, type PathPlan } from "./common.js";
import { jobDeps } from "./job.js";

interface CommandPlan extends PathPlan {
  command: string;
  /** SCOUT_JOB_AFTER (ms): run as a job, answered inline if it ends within this. */
  asJobAfterMs?: number;
}

type Ran = Awaited<ReturnType<typeof runCommand>>;

export const commandMode = defineMode<CommandPlan, Ran | { asJob: JobAnswer }>({
  mode: "command",
  params: ["target", "query", "sudo"],
  output: z.object({
    mode: z.literal("command"),
    ...located,
    sudo: z.boolean().optional(),
    exitCode: z.number().nullable(),
    signal: z.string().nullable().optional(),
    timedOut: z.boolean(),
    stdoutTruncated: z.boolean(),
    stderrTruncated: z.boolean(),
    durationMs: z.number(),
  }),
  plan(args, env) {
    const base = pathPlan(args.target, "command");
    const command = args.query ?? "";
    // background=false is the caller's "no job": the command lives and dies with the call.
    const after = args.background === false ? 0 : env.settings.jobAfterMs;
    return {
      ...base,
      command,
      ...(after > 0 ? { asJobAfterMs: after } : {}),
      ...(args.sudo ? { sudo: true } : {}),
      changes: args.sudo ? "sudo commands" : "commands",
      confirm: `Run this command on ${base.host}${args.sudo ? " as root (sudo)" : ""} in ${base.path}?\n\n${command}`,
    };
  },
  async run(p, ctx) {
    const sudo = p.sudo ? ctx.grant.sudo(p.host) : undefined;
    if (p.asJobAfterMs !== undefined) {
      const asJob = await commandAsJob(jobDeps(ctx), {
        host: p.host,
        path: p.path,
        command: p.command,
        afterMs: p.asJobAfterMs,
        ...(sudo ? { sudo } : {}),
      });
      return { asJob };
    }
    // Live output: new lines ride on progress notifications while the command runs.
    const report = ctx.progress;
    const live = report ? new LiveOutput({ send: (n, message) => report(n, undefined, message) }) : undefined;
    // One decoder per stream: a character split across chunks of one stream is not garbled by the other.
    const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    try {
      return await runCommand(ctx.engine.fleet.host(p.host), p.command, ctx.engine.limits, {
        cwd: p.path,
        signal: ctx.signal,
        ...(sudo ? { sudo } : {}),
        ...(live
          ? {
              onOutput: (chunk: Buffer, stream: "stdout" | "stderr") =>
                live.push(decoders[stream].write(chunk)),
            }
          : {}),
      });
    } finally {
      live?.close();
    }
  },
  format(r, p, ctx) {
    const base = { host: p.host, path: p.path };
    const sudo = p.sudo ? { sudo: true } : {};
    if ("asJob" in r) {
      const a = r.asJob;
      return {
        mode: "command",
        ...base,
        command: p.command,
        ...sudo,
        ...(a.exitCode !== undefined ? { exitCode: a.exitCode } : {}),
        text: a.text,
        structured: a.structured,
        ...(a.job !== undefined ? { job: a.job, jobAction: a.action } : {}),
        ...(a.info ? { jobInfo: a.info } : {}),
      };
    }
    return {
      mode: "command",
      ...base,
      command: p.command,
      exitCode: r.exitCode,
      ...sudo,
      text: formatCommandResult({
        ...r,
        timeoutMs: ctx.engine.limits.commandTimeoutMs,
        maxOutputSize: ctx.engine.limits.maxOutputSize,
      }),
      structured: {
        mode: "command",
        ...base,
        ...sudo,
        exitCode: r.exitCode,
        signal: r.signal,
        timedOut: r.timedOut,
        stdoutTruncated: r.stdoutTruncated,
        stderrTruncated: r.stderrTruncated,
        durationMs: Math.round(r.durationMs),
      },
    };
  },
});
