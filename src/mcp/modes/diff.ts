/** `diff="host2:/path"` or `diff_content="…"`: a unified diff of a file against another or a text. */
import { z } from "zod";
import { ScoutError } from "../../errors.js";
import { diffTexts } from "../../ops/diff.js";
import { readFile } from "../../ops/read.js";
import { formatContentMatches, formatDiffIdentical } from "../format.js";
import { defineMode } from "../mode.js";
import { parseRemoteSpec } from "../target.js";
import { located, pathPlan, type PathPlan } from "./common.js";

interface DiffPlan extends PathPlan {
  /** The other file, or the expected text. */
  against: { kind: "file"; host: string; path: string } | { kind: "text"; text: string };
}

interface DiffData {
  identical: boolean;
  unified: string;
  truncated: boolean;
}

export const diffMode = defineMode<DiffPlan, DiffData>({
  mode: "diff",
  params: ["target", "diff", "diff_content"],
  output: z.object({
    mode: z.literal("diff"),
    ...located,
    other: z.string().optional(),
    identical: z.boolean(),
    truncated: z.boolean(),
  }),
  plan(args) {
    const base = pathPlan(args.target, "diff");
    if (args.diff !== undefined) {
      const other = parseRemoteSpec(args.diff, "diff");
      return {
        ...base,
        targets: [...base.targets, { host: other.host, path: other.path }],
        against: { kind: "file", ...other },
      };
    }
    return { ...base, against: { kind: "text", text: args.diff_content ?? "" } };
  },
  async run(p, ctx) {
    const { engine } = ctx;
    const opts = { signal: ctx.signal };
    const host = engine.fleet.host(p.host);
    if (p.against.kind === "text") {
      const r = await readFile(host, p.path, engine.limits, opts);
      if (r.binary) throw new ScoutError("invalid-input", `Cannot diff binary file ${p.host}:${p.path}`);
      const d = diffTexts("expected", p.against.text, p.path, r.content);
      return { identical: d.identical, unified: d.unified, truncated: r.truncated };
    }
    const other = p.against;
    const [a, b] = await Promise.all([
      readFile(host, p.path, engine.limits, opts),
      readFile(engine.fleet.host(other.host), other.path, engine.limits, opts),
    ]);
    for (const [side, r] of [
      [`${p.host}:${p.path}`, a],
      [`${other.host}:${other.path}`, b],
    ] as const) {
      if (r.binary) throw new ScoutError("invalid-input", `Cannot diff binary file ${side}`);
    }
    const d = diffTexts(p.path, a.content, other.path, b.content);
    return { identical: d.identical, unified: d.unified, truncated: a.truncated || b.truncated };
  },
  format(d, p, ctx) {
    const base = { host: p.host, path: p.path };
    if (p.against.kind === "text") {
      return {
        mode: "diff",
        ...base,
        text: d.identical ? formatContentMatches(p.path) : d.unified,
        structured: { mode: "diff", ...base, identical: d.identical, truncated: d.truncated },
      };
    }
    const o = p.against;
    const note = d.truncated
      ? `\n[compared only the first ${ctx.engine.limits.maxFileSize} bytes of each file]`
      : "";
    return {
      mode: "diff",
      ...base,
      text: (d.identical ? formatDiffIdentical(p.host, p.path, o.host, o.path) : d.unified) + note,
      structured: {
        mode: "diff",
        ...base,
        other: `${o.host}:${o.path}`,
        identical: d.identical,
        truncated: d.truncated,
      },
    };
  },
});
