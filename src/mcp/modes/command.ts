/** `query="…"`: a shell command on one host, in the target directory (optionally as root). */
import { StringDecoder } from "node:string_decoder";
import { z } from "zod";
import { runCommand } from "../../ops/exec.js";
import { formatCommandResult } from "../format.js";
import { LiveOutput } from "../live-output.js";
import { defineMode } from "../mode.js";
import { located, pathPlan, type PathPlan } from "./common.js";

interface CommandPlan extends PathPlan {
  command: string;
}

type Ran = Awaited<ReturnType<typeof runCommand>>;

export const commandMode = defineMode<CommandPlan, Ran>({
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
  plan(args) {
    const base = pathPlan(args.target, "command");
    const command = args.query ?? "";
    return {
      ...base,
      command,
      ...(args.sudo ? { sudo: true } : {}),
      changes: args.sudo ? "sudo commands" : "commands",
      confirm: `Run this command on ${base.host}${args.sudo ? " as root (sudo)" : ""} in ${base.path}?\n\n${command}`,
    };
  },
  async run(p, ctx) {
    const sudo = p.sudo ? ctx.grant.sudo(p.host) : undefined;
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
