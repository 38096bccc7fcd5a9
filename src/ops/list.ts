/**
 * Directory listings over SFTP, `ls -la` style. OpenSSH's SFTP server already renders each entry's
 * `ls -l` line (owner and group names included), so that is what we show, sorted by name, with
 * symlink targets resolved in parallel. Output stops at the output cap with a count of what was
 * left out.
 */
import type { FileEntryWithStats, SFTPWrapper, Stats } from "ssh2";
import type { HostAccess } from "../ssh/types.js";
import type { Limits } from "./limits.js";
import { resolveRemotePath } from "./paths.js";
import { noteType, typeOf, type EntryType } from "./read.js";
import { sftpCall } from "./sftp-errors.js";

const LINK_BATCH = 512;

export interface ListEntry {
  name: string;
  type: EntryType;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  size: number;
  mtime: Date;
  /** The symlink's target (resolved for the entries shown, not for those left out). */
  linkTarget?: string;
}

export interface ListResult {
  path: string;
  entries: ListEntry[];
  total: number;
  omitted: number;
  text: string;
}

export function readdir(sftp: SFTPWrapper, p: string): Promise<FileEntryWithStats[]> {
  return sftpCall<FileEntryWithStats[]>(p, "list", (cb) => sftp.readdir(p, cb));
}

function readlink(sftp: SFTPWrapper, p: string): Promise<string | undefined> {
  return new Promise((resolve) => sftp.readlink(p, (err, target) => resolve(err ? undefined : target)));
}

function join(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

function toEntry(e: FileEntryWithStats): ListEntry {
  const parts = e.longname.split(/\s+/);
  return {
    name: e.filename,
    type: typeOf(e.attrs as Stats),
    mode: e.attrs.mode,
    permissions: parts[0] ?? "",
    owner: parts[2] ?? String(e.attrs.uid),
    group: parts[3] ?? String(e.attrs.gid),
    size: e.attrs.size,
    mtime: new Date(e.attrs.mtime * 1000),
  };
}

/** Resolves symlink targets with bounded concurrency (they are few; every one is a round trip). */
export async function resolveLinks(
  sftp: SFTPWrapper,
  dir: string,
  entries: Array<{ name: string; type: EntryType; linkTarget?: string }>,
): Promise<void> {
  const links = entries.filter((e) => e.type === "symlink");
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(32, links.length) }, async () => {
      while (next < links.length) {
        const e = links[next++];
        if (!e) break;
        const t = await readlink(sftp, join(dir, e.name));
        if (t !== undefined) e.linkTarget = t;
      }
    }),
  );
}

export async function listDirectory(
  host: HostAccess,
  path: string,
  limits: Limits,
  opts: { signal?: AbortSignal } = {},
): Promise<ListResult> {
  return host.withSftp(
    async ({ sftp, home }) => {
      const p = resolveRemotePath(path, home);
      const raw = await readdir(sftp, p);
      raw.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
      const longnames = new Map(raw.map((e) => [e.filename, e.longname]));
      const entries = raw.map(toEntry);
      for (const e of entries) noteType(sftp, join(p, e.name), e.type);
      const lines: string[] = [`total ${entries.length}`];
      let bytes = lines[0]?.length ?? 0;
      let shown = 0;
      // Symlink targets cost a round trip each (pipelined): resolve them only for the entries that
      // can still be shown, a batch at a time, so that a huge directory stops at the cap cheaply.
      fill: for (let i = 0; i < entries.length; i += LINK_BATCH) {
        const batch = entries.slice(i, i + LINK_BATCH);
        await resolveLinks(sftp, p, batch);
        for (const e of batch) {
          const line =
            (longnames.get(e.name) ?? e.name) + (e.linkTarget !== undefined ? ` -> ${e.linkTarget}` : "");
          const size = Buffer.byteLength(line) + 1;
          if (bytes + size > limits.maxOutputSize) break fill;
          lines.push(line);
          bytes += size;
          shown++;
        }
      }
      const omitted = entries.length - shown;
      if (omitted > 0)
        lines.push(`[… ${omitted} more entries not shown: output capped at ${limits.maxOutputSize} bytes]`);
      return { path: p, entries, total: entries.length, omitted, text: lines.join("\n") };
    },
    { ...(opts.signal ? { signal: opts.signal } : {}) },
  );
}
