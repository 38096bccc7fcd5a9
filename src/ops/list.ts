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
import { closeQuietly, flushCloses, SFTP_STATUS, sftpCall, sftpError } from "./sftp-errors.js";

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

/** Most READDIR requests in flight on one directory handle (the window starts at 2 and doubles). */
const READDIR_WINDOW_MAX = 16;

/**
 * All entries of a directory (without "." and ".."), in the server's order. A READDIR answers
 * ~100 entries, and one at a time a 100,000-entry directory costs 1,000 round trips. The server
 * answers the requests on one handle in order (the SFTP draft requires it), so several go out
 * together: the window starts at 2 (a small directory: its entries and EOF in one round trip) and
 * doubles with every answer. Answers past EOF are EOF too and are ignored.
 */
export async function readdir(sftp: SFTPWrapper, p: string): Promise<FileEntryWithStats[]> {
  flushCloses(sftp);
  const handle = await sftpCall<Buffer>(p, "list", (cb) => sftp.opendir(p, cb));
  const batches: FileEntryWithStats[][] = [];
  let failure: unknown;
  await new Promise<void>((resolve) => {
    let window = 2;
    let sent = 0;
    let inFlight = 0;
    let eof = false;
    const pump = (): void => {
      while (!eof && failure === undefined && inFlight < window) {
        const slot = sent++;
        inFlight++;
        try {
          sftp.readdir(handle, (err, list) => {
            inFlight--;
            if (err) {
              if ((err as { code?: unknown }).code === SFTP_STATUS.EOF) eof = true;
              else failure ??= err;
              // Answers come in order: every earlier request is answered. The ones still in
              // flight can only say EOF; don't wait a round trip for them.
              resolve();
              return;
            }
            batches[slot] = list;
            window = Math.min(window * 2, READDIR_WINDOW_MAX);
            pump();
          });
        } catch (e) {
          // ssh2 throws synchronously when the channel is already gone.
          inFlight--;
          failure ??= e;
        }
      }
      if (inFlight === 0) resolve();
    };
    pump();
  });
  closeQuietly(sftp, handle);
  if (failure !== undefined) throw sftpError(failure, p, "list");
  return batches.flat();
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
