/**
 * File reads over SFTP. A warm read of a small file is two round trips: stat and open are sent
 * together (pipelined), then one read; close is not awaited and rides with the session's next
 * request. On a connection whose RTT is below SCOUT_PIPELINE_MIN_RTT (off by default; see
 * SshConnection.pipelined) a read alone on its session sends one request at a time instead (stat,
 * open, read, close), so the server never owes two small replies at once: an SSH server with
 * Nagle on its socket would hold the second until our delayed ACK, ~40 ms. OpenSSH sets
 * TCP_NODELAY on every session, so the default pipelines. Reads sharing a busy session always
 * pipeline (the traffic both ways carries the ACKs). Larger reads keep several chunks in flight.
 * Content stops at the cap on a UTF-8 character boundary; binary content is reported, not dumped.
 *
 * FIFOs and devices are refused. Opening a FIFO blocks the SFTP server process in open(2) until a
 * writer appears, and the server handles one request at a time, so one such open would hang the
 * whole session. The open is therefore pipelined with the stat only for paths this session has
 * already seen as regular files (by a stat or a listing), or — "open ahead", high-RTT connections
 * only (SCOUT_OPEN_AHEAD_MIN_RTT, default 10 ms), never for root logins nor under /dev, /proc,
 * /sys — for a path it has not seen; elsewhere an unknown path is stat'ed first (one more round
 * trip, cheap on a LAN). When the stat then shows that an open already sent is not on a regular
 * file, settleStrayOpen() makes sure it cannot wedge the session: the open's handle is closed when
 * it answers; a FIFO's open is unblocked by opening the FIFO for writing from a command (and
 * closing it at once: a reader sees an empty write); an open still unanswered after that is given
 * up with its session, so nobody else waits behind it.
 */
import type { SFTPWrapper, Stats } from "ssh2";
import { ScoutError, abortError } from "../errors.js";
import type { HostAccess, SftpContext } from "../ssh/types.js";
import type { Limits } from "./limits.js";
import { resolveRemotePath, shellQuote } from "./paths.js";
import {
  assertSessionOpen,
  closeNow,
  closeQuietly,
  closeSoon,
  closesSettled,
  flushCloses,
  sftpOpen,
  sftpRead,
  sftpStat,
} from "./sftp-errors.js";

export type EntryType = "file" | "directory" | "symlink" | "fifo" | "socket" | "char" | "block" | "unknown";

export interface PathInfo {
  path: string;
  type: EntryType;
  size: number;
  mode: number;
  mtime: Date;
  uid: number;
  gid: number;
}

export interface ReadResult {
  path: string;
  size: number;
  content: string;
  bytesRead: number;
  truncated: boolean;
  binary: boolean;
  mtime: Date;
  mode: number;
  range?: { offset: number; length: number };
  tailLines?: number;
}

export interface ReadOptions {
  signal?: AbortSignal;
  offset?: number;
  length?: number;
  tail?: number;
}

const CHUNK = 64 * 1024;
const IN_FLIGHT = 8;
const BINARY_SNIFF = 8192;

export function typeOf(s: Stats): EntryType {
  if (s.isFile()) return "file";
  if (s.isDirectory()) return "directory";
  if (s.isSymbolicLink()) return "symlink";
  if (s.isFIFO()) return "fifo";
  if (s.isSocket()) return "socket";
  if (s.isCharacterDevice()) return "char";
  if (s.isBlockDevice()) return "block";
  return "unknown";
}

function info(path: string, s: Stats): PathInfo {
  return {
    path,
    type: typeOf(s),
    size: s.size,
    mode: s.mode,
    mtime: new Date(s.mtime * 1000),
    uid: s.uid,
    gid: s.gid,
  };
}

/** Per SFTP session: paths last seen as regular files, least recently seen first (bounded). */
const knownFiles = new WeakMap<SFTPWrapper, Set<string>>();
const KNOWN_FILES_MAX = 4096;

/** Per SFTP session: paths last seen as something other than a regular file (bounded alike). */
const knownOthers = new WeakMap<SFTPWrapper, Set<string>>();

function remember(map: WeakMap<SFTPWrapper, Set<string>>, sftp: SFTPWrapper, path: string): void {
  let known = map.get(sftp);
  if (!known) {
    known = new Set();
    map.set(sftp, known);
  }
  known.delete(path); // re-insert as the most recent
  known.add(path);
  if (known.size > KNOWN_FILES_MAX) known.delete(known.values().next().value as string);
}

/**
 * Records what a stat or listing showed, so that the next read of a regular file pipelines its
 * open, and a path seen as a FIFO, device or directory is never opened before its stat.
 */
export function noteType(sftp: SFTPWrapper, path: string, type: EntryType): void {
  if (type !== "file") {
    knownFiles.get(sftp)?.delete(path);
    // "unknown" (a failed stat) says nothing about what may appear there.
    if (type === "unknown") knownOthers.get(sftp)?.delete(path);
    else remember(knownOthers, sftp, path);
    return;
  }
  knownOthers.get(sftp)?.delete(path);
  remember(knownFiles, sftp, path);
}

function knownOther(sftp: SFTPWrapper, path: string): boolean {
  return knownOthers.get(sftp)?.has(path) ?? false;
}

function isKnownFile(sftp: SFTPWrapper, path: string): boolean {
  return knownFiles.get(sftp)?.has(path) ?? false;
}

/** Reads in progress per SFTP session: only a read alone on its session may go unpipelined. */
const activeReads = new WeakMap<SFTPWrapper, number>();

function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

export async function statPath(host: HostAccess, path: string, signal?: AbortSignal): Promise<PathInfo> {
  return host.withSftp(
    async ({ sftp, home }) => {
      const p = resolveRemotePath(path, home);
      const s = await sftpStat(sftp, p, path);
      noteType(sftp, p, typeOf(s));
      return info(p, s);
    },
    { ...(signal ? { signal } : {}) },
  );
}

/** The largest cut ≤ `end` that does not split a UTF-8 character. */
export function utf8Boundary(buf: Buffer, end: number): number {
  let i = end - 1;
  let continuation = 0;
  while (i >= 0 && ((buf[i] as number) & 0xc0) === 0x80 && continuation < 3) {
    i--;
    continuation++;
  }
  if (i < 0) return end;
  const lead = buf[i] as number;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i + need <= end ? end : i;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Decodes text, or reports binary (NUL in the first 8 KiB, or invalid UTF-8). */
export function decodeText(buf: Buffer): { text: string; binary: boolean } {
  if (buf.subarray(0, BINARY_SNIFF).includes(0)) return { text: "", binary: true };
  try {
    return { text: decoder.decode(buf), binary: false };
  } catch {
    return { text: "", binary: true };
  }
}

/** Reads [start, start+len) with up to IN_FLIGHT chunk requests pipelined; stops early at EOF. */
async function readRange(
  sftp: SFTPWrapper,
  handle: Buffer,
  start: number,
  len: number,
  path: string,
  signal?: AbortSignal,
): Promise<Buffer> {
  if (len <= CHUNK) {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = await sftpRead(sftp, handle, buf, got, len - got, start + got, path);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }
  const buf = Buffer.allocUnsafe(len);
  let eof = len;
  let next = 0;
  const worker = async () => {
    while (next < eof) {
      checkAbort(signal, `Reading ${path}`);
      const off = next;
      next += CHUNK;
      const want = Math.min(CHUNK, len - off);
      let got = 0;
      while (got < want) {
        const n = await sftpRead(sftp, handle, buf, off + got, want - got, start + off + got, path);
        if (n <= 0) {
          eof = Math.min(eof, off + got);
          return;
        }
        got += n;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return buf.subarray(0, eof);
}

/** Reads a growing buffer until EOF or `max` bytes (files whose stat size is 0, e.g. /proc). */
async function readUnknownSize(
  sftp: SFTPWrapper,
  handle: Buffer,
  max: number,
  path: string,
  signal?: AbortSignal,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  while (total < max) {
    checkAbort(signal, `Reading ${path}`);
    const want = Math.min(CHUNK, max - total);
    const buf = Buffer.allocUnsafe(want);
    const n = await sftpRead(sftp, handle, buf, 0, want, total, path);
    if (n <= 0) break;
    parts.push(buf.subarray(0, n));
    total += n;
  }
  return Buffer.concat(parts);
}

function refuseSpecial(p: string, s: Stats): void {
  const t = typeOf(s);
  if (t === "directory") {
    throw new ScoutError("not-a-file", `${p} is a directory`, {
      hint: "List it without tail/offset, or use find/tree",
    });
  }
  if (t !== "file") {
    const names: Record<string, string> = {
      fifo: "a FIFO",
      socket: "a socket",
      char: "a character device",
      block: "a block device",
    };
    throw new ScoutError("not-a-file", `${p} is ${names[t] ?? "not a regular file"}: not read`, {
      hint: "Only regular files are read (a FIFO or device could block forever)",
    });
  }
}

export async function readFile(
  host: HostAccess,
  path: string,
  limits: Limits,
  opts: ReadOptions = {},
): Promise<ReadResult> {
  const { signal } = opts;
  return host.withSftp(
    async (ctx) => {
      const { sftp } = ctx;
      const alone = (activeReads.get(sftp) ?? 0) === 0;
      activeReads.set(sftp, (activeReads.get(sftp) ?? 0) + 1);
      const stopWatch = ctx.watchReply();
      try {
        return await readAs(host, ctx, path, limits, opts, alone);
      } finally {
        stopWatch();
        activeReads.set(sftp, (activeReads.get(sftp) ?? 1) - 1);
      }
    },
    { ...(signal ? { signal } : {}) },
  );
}

/**
 * Where opening a path the session has not seen yet is never tried before its stat: devices live
 * under /dev (some devices act on open: a watchdog arms, a serial line toggles DTR), and procfs and
 * sysfs files are not plain data. A root login could open any device anywhere: it never opens ahead.
 */
const NO_OPEN_AHEAD = /^\/(?:dev|proc|sys)(?:\/|$)/;

function mayOpenAhead(host: HostAccess, ctx: SftpContext, p: string): boolean {
  return ctx.openAhead && host.config.user !== "root" && !NO_OPEN_AHEAD.test(p);
}

async function readAs(
  host: HostAccess,
  ctx: SftpContext,
  path: string,
  limits: Limits,
  opts: ReadOptions,
  alone: boolean,
): Promise<ReadResult> {
  const { sftp, home, pipelined, sample } = ctx;
  const p = resolveRemotePath(path, home);
  const open = () => sftpOpen(sftp, p, "r");
  const pipeline = pipelined || !alone;
  if (!pipeline) {
    // One request at a time: the previous read's CLOSE is answered before this stat goes.
    flushCloses(sftp);
    const settled = closesSettled(sftp);
    if (settled) {
      await settled;
      assertSessionOpen(sftp, p); // the connection may have died meanwhile
    }
  }
  const sent = performance.now();
  const statP = sftpStat(sftp, p);
  // A known regular file (or, on a high-RTT connection, a path not known to be anything else):
  // stat and open go out together, one round trip for both.
  const early =
    pipeline && (isKnownFile(sftp, p) || (!knownOther(sftp, p) && mayOpenAhead(host, ctx, p)))
      ? open()
      : undefined;
  let s: Stats;
  try {
    s = await statP;
  } catch (e) {
    noteType(sftp, p, "unknown");
    // No such path (or no access): the open fails alike, and its handle, if any, is closed.
    if (early) settleStrayOpen(host, ctx, p, "unknown", early);
    throw e;
  }
  // Alone on the session, the stat's reply time is a round trip (a CLOSE riding with it
  // costs the server microseconds).
  if (alone) sample(performance.now() - sent);
  const type = typeOf(s);
  noteType(sftp, p, type);
  if (type !== "file") {
    // The open already sent may block the server (a FIFO), and every request queued behind it.
    if (early) settleStrayOpen(host, ctx, p, type, early);
    refuseSpecial(p, s);
  }
  const handle = await (early ?? open());
  try {
    return await readOpened(sftp, handle, p, s, limits, opts);
  } finally {
    // Not awaited either way; pipelined: sent with the next request.
    if (pipeline) closeSoon(sftp, handle);
    else closeNow(sftp, handle);
  }
}

/** How long a command that unblocks a FIFO's open may take (the `timeout` around it). */
const UNBLOCK_SECONDS = 2;

/**
 * An open sent before its stat turned out not to be on a regular file. Whatever it opened is
 * closed when it answers. A FIFO's open waits for a writer: one is provided by a command that
 * opens the FIFO for writing and closes it at once. If the open is still unanswered when that is
 * done (no write permission, no exec on the host) or, for anything else, after the connection's
 * reply deadline (a device whose open blocks), the session is given up: its pending requests fail
 * and are retried on a fresh session, so the call behind never waits. Runs in the background: the
 * read's own answer (not a file) does not wait for it.
 */
function settleStrayOpen(
  host: HostAccess,
  ctx: SftpContext,
  p: string,
  type: EntryType,
  early: Promise<Buffer>,
): void {
  let answered = false;
  const done = early.then(
    (h) => {
      answered = true;
      closeQuietly(ctx.sftp, h);
    },
    () => {
      answered = true;
    },
  );
  const giveUpAfter = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      void done.then(() => {
        clearTimeout(timer);
        resolve();
      });
    }).then(() => {
      if (!answered) ctx.retire();
    });
  if (type !== "fifo") {
    void giveUpAfter(ctx.replyDeadlineMs());
    return;
  }
  void unblockFifo(host, p).then(() => giveUpAfter(ctx.replyDeadlineMs()));
}

/** Opens the FIFO for writing and closes it: a reader blocked in open(2) on it returns. */
async function unblockFifo(host: HostAccess, p: string): Promise<void> {
  const script = `timeout ${UNBLOCK_SECONDS} sh -c ': > "$1"' sh ${shellQuote(p)} 2>/dev/null`;
  try {
    const { channel } = await host.exec(script, {
      signal: AbortSignal.timeout((UNBLOCK_SECONDS + 3) * 1000),
    });
    await new Promise<void>((resolve) => {
      channel.on("data", () => {});
      channel.stderr.on("data", () => {});
      channel.once("close", () => resolve());
      channel.end();
    });
  } catch {
    // No exec channel (ForceCommand internal-sftp, a full pool...): the session is given up.
  }
}

async function readOpened(
  sftp: SFTPWrapper,
  handle: Buffer,
  p: string,
  s: Stats,
  limits: Limits,
  opts: ReadOptions,
): Promise<ReadResult> {
  const cap = limits.maxFileSize;
  const base = { path: p, size: s.size, mtime: new Date(s.mtime * 1000), mode: s.mode };
  if (opts.tail !== undefined) return readTail(sftp, handle, p, s.size, opts.tail, cap, base, opts.signal);

  let start = 0;
  let want: number;
  let buf: Buffer;
  let more: boolean;
  if (opts.offset !== undefined || opts.length !== undefined) {
    start = Math.max(0, opts.offset ?? 0);
    const len = Math.min(opts.length ?? cap, cap);
    want = Math.max(0, Math.min(len, s.size - start));
    buf = want > 0 ? await readRange(sftp, handle, start, want, p, opts.signal) : Buffer.alloc(0);
    more = (opts.length ?? cap) > cap && start + buf.length < s.size;
  } else if (s.size === 0) {
    // Size unknown (procfs and friends): read until EOF, one byte past the cap to detect more.
    buf = await readUnknownSize(sftp, handle, cap + 1, p, opts.signal);
    more = buf.length > cap;
    if (more) buf = buf.subarray(0, cap);
  } else {
    want = Math.min(s.size, cap);
    buf = await readRange(sftp, handle, 0, want, p, opts.signal);
    more = s.size > cap;
  }
  let end = buf.length;
  if (more || start > 0) end = utf8Boundary(buf, buf.length);
  const decoded = decodeText(buf.subarray(0, end));
  return {
    ...base,
    content: decoded.text,
    bytesRead: buf.length,
    truncated: more,
    binary: decoded.binary,
    ...(opts.offset !== undefined || opts.length !== undefined
      ? { range: { offset: start, length: end } }
      : {}),
  };
}

/** The last `lines` lines: read backwards from the end in chunks until enough newlines are seen. */
async function readTail(
  sftp: SFTPWrapper,
  handle: Buffer,
  p: string,
  size: number,
  lines: number,
  cap: number,
  base: { path: string; size: number; mtime: Date; mode: number },
  signal?: AbortSignal,
): Promise<ReadResult> {
  const parts: Buffer[] = [];
  let pos = size;
  let total = 0;
  let newlines = 0;
  // A trailing newline ends the last line; it doesn't start another one.
  let skipTrailing = true;
  while (pos > 0 && total < cap) {
    checkAbort(signal, `Reading ${p}`);
    const len = Math.min(CHUNK, pos, cap - total);
    pos -= len;
    const chunk = await readRange(sftp, handle, pos, len, p, signal);
    parts.unshift(chunk);
    total += chunk.length;
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] === 10) {
        if (skipTrailing && pos + i === size - 1) continue;
        newlines++;
        if (newlines === lines) {
          const joined = Buffer.concat(parts).subarray(i + 1);
          const decoded = decodeText(joined);
          return {
            ...base,
            content: decoded.text,
            bytesRead: joined.length,
            truncated: false,
            binary: decoded.binary,
            tailLines: lines,
          };
        }
      }
    }
    skipTrailing = false;
  }
  let joined = Buffer.concat(parts);
  const cut = pos > 0; // stopped at the cap before finding enough lines
  if (cut) {
    // Start at a character boundary: skip continuation bytes at the front.
    let s = 0;
    while (s < joined.length && ((joined[s] as number) & 0xc0) === 0x80) s++;
    joined = joined.subarray(s);
  }
  const decoded = decodeText(joined);
  return {
    ...base,
    content: decoded.text,
    bytesRead: joined.length,
    truncated: cut,
    binary: decoded.binary,
    tailLines: lines,
  };
}
