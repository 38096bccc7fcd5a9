/** `find="*.py"`: files whose names match a glob under a directory, depth-limited. */
import { z } from "zod";
import { find as findFiles } from "../../ops/walk.js";
import { formatFindResult, resourceLinks } from "../format.js";
import { defineMode } from "../mode.js";
import { located, pathPlan, type PathPlan } from "./common.js";

interface FindPlan extends PathPlan {
  pattern: string;
  depth: number;
}

type Found = Awaited<ReturnType<typeof findFiles>>;

export const findMode = defineMode<FindPlan, Found>({
  mode: "find",
  params: ["target", "find", "depth"],
  output: z.object({
    mode: z.literal("find"),
    ...located,
    pattern: z.string(),
    matches: z.array(z.string()),
    truncated: z.boolean(),
  }),
  plan: (args) => ({ ...pathPlan(args.target, "find"), pattern: args.find ?? "", depth: args.depth ?? 5 }),
  run: (p, ctx) =>
    findFiles(ctx.engine.fleet.host(p.host), p.path, p.pattern, ctx.engine.limits, {
      depth: p.depth,
      signal: ctx.signal,
    }),
  format: (r, p, ctx) => ({
    mode: "find",
    host: p.host,
    path: p.path,
    text: formatFindResult(r.matches, p.pattern, p.path, r.truncated),
    // A match is a file or a directory (find does not say which; a read of the link tells).
    links: resourceLinks(
      p.host,
      r.matches.map((m) => ({ path: m, type: "match", name: m })),
      ctx.engine.settings.maxResourceLinks,
    ),
    structured: {
      mode: "find",
      host: p.host,
      path: p.path,
      pattern: p.pattern,
      matches: r.matches,
      truncated: r.truncated,
    },
  }),
});
