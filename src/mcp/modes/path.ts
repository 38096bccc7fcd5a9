/**
 * A path on one host: a file is read (whole, a byte range or its last lines), a directory listed,
 * or with tree=true drawn as a tree. One mode from the model's view ("read"); the answer names
 * what it turned out to be.
 */
import { z } from "zod";
import { ScoutError } from "../../errors.js";
import { listDirectory } from "../../ops/list.js";
import { readFile, statPath } from "../../ops/read.js";
import { tree as treeOf } from "../../ops/walk.js";
import { formatFileContent, formatRange, resourceLinks } from "../format.js";
import { defineMode, type RunContext } from "../mode.js";
import type { ScoutArgs } from "../schema.js";
import { located, pathPlan, type PathPlan } from "./common.js";

type FileRead = Awaited<ReturnType<typeof readFile>>;
type Listing = Awaited<ReturnType<typeof listDirectory>>;
type Tree = Awaited<ReturnType<typeof treeOf>>;

interface ReadPlan extends PathPlan {
  args: Pick<ScoutArgs, "tree" | "depth" | "tail" | "offset" | "length">;
}

type ReadData =
  | { kind: "range"; file: FileRead }
  | { kind: "file"; file: FileRead }
  | { kind: "list"; listing: Listing }
  | { kind: "tree"; tree: Tree };

const fileOutput = z.object({
  mode: z.literal("read"),
  ...located,
  kind: z.literal("file"),
  size: z.number(),
  binary: z.boolean(),
  truncated: z.boolean(),
  range: z.object({ offset: z.number(), length: z.number() }).passthrough().optional(),
  tailLines: z.number().optional(),
});
const listOutput = z.object({
  mode: z.literal("list"),
  ...located,
  kind: z.literal("directory"),
  entries: z.number(),
  omitted: z.number(),
});
const treeOutput = z.object({
  mode: z.literal("tree"),
  ...located,
  kind: z.literal("directory"),
  truncated: z.boolean(),
});

function plan(mode: "read" | "tree") {
  return (args: ScoutArgs): ReadPlan => ({
    ...pathPlan(args.target, mode),
    args: {
      tree: args.tree,
      ...(args.depth !== undefined ? { depth: args.depth } : {}),
      ...(args.tail !== undefined ? { tail: args.tail } : {}),
      ...(args.offset !== undefined ? { offset: args.offset } : {}),
      ...(args.length !== undefined ? { length: args.length } : {}),
    },
  });
}

async function run(p: ReadPlan, ctx: RunContext): Promise<ReadData> {
  const { engine, signal } = ctx;
  const host = engine.fleet.host(p.host);
  const opts = { signal };
  const a = p.args;
  if (a.tail !== undefined || a.offset !== undefined || a.length !== undefined) {
    const file = await readFile(host, p.path, engine.limits, {
      ...opts,
      ...(a.tail !== undefined ? { tail: a.tail } : {}),
      ...(a.offset !== undefined || a.length !== undefined
        ? { offset: a.offset ?? 0, length: a.length ?? engine.limits.maxFileSize }
        : {}),
    });
    return { kind: "range", file };
  }
  // A plain read goes straight to readFile (its stat and open are pipelined: 2 round trips for a
  // warm small file); only when that says "not a file" does a stat decide whether to list.
  let fileRead: FileRead | undefined;
  let isDirectory: boolean;
  if (a.tree) {
    isDirectory = (await statPath(host, p.path, signal)).type === "directory";
  } else {
    try {
      fileRead = await readFile(host, p.path, engine.limits, opts);
      isDirectory = false;
    } catch (e) {
      if (!(e instanceof ScoutError && e.code === "not-a-file")) throw e;
      isDirectory = (await statPath(host, p.path, signal)).type === "directory";
      if (!isDirectory) throw e;
    }
  }
  if (isDirectory) {
    if (a.tree) {
      return {
        kind: "tree",
        tree: await treeOf(host, p.path, engine.limits, { depth: a.depth ?? 3, ...opts }),
      };
    }
    return { kind: "list", listing: await listDirectory(host, p.path, engine.limits, opts) };
  }
  return { kind: "file", file: fileRead ?? (await readFile(host, p.path, engine.limits, opts)) };
}

const joinPath = (dir: string, name: string): string => (dir.endsWith("/") ? dir + name : `${dir}/${name}`);

function format(d: ReadData, p: ReadPlan, ctx: RunContext) {
  const base = { host: p.host, path: p.path };
  const maxLinks = ctx.engine.settings.maxResourceLinks;
  switch (d.kind) {
    case "tree":
      return {
        mode: "tree" as const,
        ...base,
        text: d.tree.text,
        links: resourceLinks(p.host, d.tree.entries, maxLinks),
        structured: { mode: "tree", ...base, kind: "directory", truncated: d.tree.truncated },
      };
    case "list":
      return {
        mode: "list" as const,
        ...base,
        text: d.listing.text,
        // The entries the text shows (a capped listing omits the last ones), in its order.
        links: resourceLinks(
          p.host,
          d.listing.entries
            .slice(0, d.listing.total - d.listing.omitted)
            .map((e) => ({ path: joinPath(d.listing.path, e.name), type: e.type, size: e.size })),
          maxLinks,
        ),
        structured: {
          mode: "list",
          ...base,
          kind: "directory",
          entries: d.listing.total,
          omitted: d.listing.omitted,
        },
      };
    case "range":
    case "file": {
      const r = d.file;
      return {
        mode: "read" as const,
        ...base,
        text:
          d.kind === "range"
            ? formatRange(r)
            : formatFileContent({ ...r, maxFileSize: ctx.engine.limits.maxFileSize }),
        structured: {
          mode: "read",
          ...base,
          kind: "file",
          size: r.size,
          binary: r.binary,
          truncated: r.truncated,
          ...(d.kind === "range" && r.range ? { range: r.range } : {}),
          ...(d.kind === "range" && r.tailLines !== undefined ? { tailLines: r.tailLines } : {}),
        },
      };
    }
  }
}

export const readMode = defineMode<ReadPlan, ReadData>({
  mode: "read",
  params: ["target", "tail", "offset", "length"],
  output: z.union([fileOutput, listOutput, treeOutput]),
  plan: plan("read"),
  run: (p, ctx) => run(p, ctx),
  format: (d, p, ctx) => format(d, p, ctx),
});

export const treeMode = defineMode<ReadPlan, ReadData>({
  mode: "tree",
  params: ["target", "tree", "depth"],
  output: z.union([treeOutput, fileOutput]),
  plan: plan("tree"),
  run: (p, ctx) => run(p, ctx),
  format: (d, p, ctx) => format(d, p, ctx),
});
