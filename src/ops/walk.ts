/**
 * Recursive walks over SFTP: `tree` and `find`. Directories are read with bounded parallelism on
 * the shared SFTP session; symlinks are shown, never followed (no loops); unreadable directories
 * are skipped and counted; output stops at the output cap.
 */
import picomatch from "picomatch";
import type { SFTPWrapper } from "ssh2";
import { ScoutError, abortError } from "../errors.js";
import type { HostAccess } from "../ssh/types.js";
import type { Limits } from "./limits.js";
import { readdir, resolveLinks } from "./list.js";
import { resolveRemotePath } from "./paths.js";
import { typeOf, type EntryType } from "./read.js";

const PARALLEL = 16;

interface Node {
  name: string;
  type: EntryType;
  linkTarget?: string;
  children?: Node[];
  unreadable?: boolean;
}

function join(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** A tiny semaphore so that a wide tree never has more than PARALLEL readdirs in flight. */
function limiter(n: number) {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

async function listChildren(sftp: SFTPWrapper, dir: string): Promise<Node[]> {
  const raw = await readdir(sftp, dir);
  const nodes: Node[] = raw
    .filter((e) => e.filename !== "." && e.filename !== "..")
    .map((e) => ({ name: e.filename, type: typeOf(e.attrs as import("ssh2").Stats) }));
  nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return nodes;
}

export interface TreeResult {
  path: string;
  text: string;
  directories: number;
  files: number;
  truncated: boolean;
  unreadable: number;
  /** The entries drawn, in drawing order, by full path (for resource links). */
  entries: Array<{ path: string; type: EntryType }>;
}

export async function tree(
  host: HostAccess,
  path: string,
  limits: Limits,
  opts: { depth?: number; signal?: AbortSignal } = {},
): Promise<TreeResult> {
  const depth = opts.depth ?? 3;
  if (!Number.isInteger(depth) || depth < 1 || depth > 10) {
    throw new ScoutError("invalid-input", `depth must be 1-10, got ${depth}`);
  }
  return host.withSftp(
    async ({ sftp, home }) => {
      const root = resolveRemotePath(path, home);
      const run = limiter(PARALLEL);
      let unreadable = 0;
      let budget = limits.maxOutputSize; // a rough stop for huge trees while walking
      const walk = async (dir: string, level: number): Promise<Node[]> => {
        if (opts.signal?.aborted) throw abortError(opts.signal, "tree");
        const children = await run(() => listChildren(sftp, dir));
        await resolveLinks(sftp, dir, children);
        budget -= children.reduce((n, c) => n + c.name.length + 8, 0);
        if (level < depth && budget > 0) {
          await Promise.all(
            children
              .filter((c) => c.type === "directory")
              .map(async (c) => {
                try {
                  c.children = await walk(join(dir, c.name), level + 1);
                } catch (e) {
                  if (e instanceof ScoutError && e.code === "aborted") throw e;
                  c.unreadable = true;
                  unreadable++;
                }
              }),
          );
        }
        return children;
      };
      const top = await walk(root, 1);
      const lines: string[] = [root];
      let bytes = root.length + 1;
      let truncated = false;
      let directories = 0;
      let files = 0;
      const entries: TreeResult["entries"] = [];
      const render = (nodes: Node[], prefix: string, dir: string): void => {
        for (let i = 0; i < nodes.length && !truncated; i++) {
          const n = nodes[i] as Node;
          const last = i === nodes.length - 1;
          const label =
            n.name +
            (n.linkTarget !== undefined ? ` -> ${n.linkTarget}` : "") +
            (n.unreadable ? "  [unreadable]" : "");
          const line = `${prefix}${last ? "└── " : "├── "}${label}`;
          const size = Buffer.byteLength(line) + 1;
          if (bytes + size > limits.maxOutputSize) {
            truncated = true;
            return;
          }
          lines.push(line);
          bytes += size;
          const full = join(dir, n.name);
          entries.push({ path: full, type: n.type });
          if (n.type === "directory") directories++;
          else files++;
          if (n.children) render(n.children, prefix + (last ? "    " : "│   "), full);
        }
      };
      render(top, "", root);
      if (budget <= 0) truncated = true;
      lines.push("", `${directories} directories, ${files} files`);
      if (truncated)
        lines.push(
          `[tree output capped at ${limits.maxOutputSize} bytes; use a smaller depth or a subdirectory]`,
        );
      return { path: root, text: lines.join("\n"), directories, files, truncated, unreadable, entries };
    },
    { ...(opts.signal ? { signal: opts.signal } : {}) },
  );
}

export interface FindResult {
  path: string;
  matches: string[];
  truncated: boolean;
  scannedDirs: number;
  unreadable: number;
}

export async function find(
  host: HostAccess,
  path: string,
  pattern: string,
  limits: Limits,
  opts: { depth?: number; signal?: AbortSignal; type?: "f" | "d"; maxResults?: number } = {},
): Promise<FindResult> {
  const depth = opts.depth ?? 5;
  if (!Number.isInteger(depth) || depth < 1 || depth > 10) {
    throw new ScoutError("invalid-input", `depth must be 1-10, got ${depth}`);
  }
  if (pattern.length === 0 || pattern.length > 1024 || pattern.includes("\0")) {
    throw new ScoutError("invalid-input", "find pattern must be 1-1024 characters without NUL");
  }
  const isMatch = picomatch(pattern, { dot: true });
  const maxResults = opts.maxResults ?? 10_000;
  return host.withSftp(
    async ({ sftp, home }) => {
      const root = resolveRemotePath(path, home);
      const run = limiter(PARALLEL);
      const matches: string[] = [];
      let bytes = 0;
      let truncated = false;
      let scannedDirs = 0;
      let unreadable = 0;
      const walk = async (dir: string, level: number): Promise<void> => {
        if (truncated) return;
        if (opts.signal?.aborted) throw abortError(opts.signal, "find");
        let children: Node[];
        try {
          children = await run(() => listChildren(sftp, dir));
        } catch (e) {
          if (level === 1) throw e; // the starting point itself must exist
          unreadable++;
          return;
        }
        scannedDirs++;
        const subdirs: string[] = [];
        for (const c of children) {
          const full = join(dir, c.name);
          const typeOk = !opts.type || (opts.type === "d" ? c.type === "directory" : c.type !== "directory");
          if (typeOk && isMatch(c.name)) {
            bytes += Buffer.byteLength(full) + 1;
            if (bytes > limits.maxOutputSize || matches.length >= maxResults) {
              truncated = true;
              return;
            }
            matches.push(full);
          }
          if (c.type === "directory" && level < depth) subdirs.push(full);
        }
        await Promise.all(subdirs.map((d) => walk(d, level + 1)));
      };
      await walk(root, 1);
      matches.sort();
      return { path: root, matches, truncated, scannedDirs, unreadable };
    },
    { ...(opts.signal ? { signal: opts.signal } : {}) },
  );
}
