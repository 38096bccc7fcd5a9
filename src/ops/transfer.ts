/**
 * Transfers over SFTP streams in constant memory: local → remote, remote → local, and remote →
 * remote (piped through this process). Writes go to a temporary name that is renamed into place
 * at the end, so that a failed transfer never leaves a truncated target.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { posix } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { SFTPWrapper, Stats } from "ssh2";
import { ScoutError } from "../errors.js";
import type { HostAccess } from "../ssh/types.js";
import { resolveRemotePath } from "./paths.js";
import { sftpError, sftpReplace, sftpStat, unlinkQuietly } from "./sftp-errors.js";

export interface TransferResult {
  bytes: number;
  durationMs: number;
  bytesPerSecond: number;
}

export interface TransferOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: number, total?: number) => void;
  /** Download: throws to refuse the final local path (see ops/config-files.ts). */
  guardTarget?: (localPath: string) => Promise<void>;
}

const HIGH_WATER = 256 * 1024;

function counter(
  total: number | undefined,
  onProgress?: (bytes: number, total?: number) => void,
): { stream: Transform; bytes: () => number } {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      onProgress?.(bytes, total);
      cb(null, chunk);
    },
  });
  return { stream, bytes: () => bytes };
}

function tmpName(target: string): string {
  return `${target}.scout-tmp-${randomBytes(4).toString("hex")}`;
}

async function remoteStat(sftp: SFTPWrapper, p: string): Promise<Stats | undefined> {
  try {
    return await sftpStat(sftp, p);
  } catch (e) {
    if (e instanceof ScoutError && e.code === "not-found") return undefined;
    throw e;
  }
}

function finish(started: number, bytes: number): TransferResult {
  const durationMs = performance.now() - started;
  return { bytes, durationMs, bytesPerSecond: bytes / Math.max(durationMs / 1000, 1e-6) };
}

export async function upload(
  host: HostAccess,
  localPath: string,
  remotePath: string,
  opts: TransferOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  let size: number;
  try {
    size = (await stat(localPath)).size;
  } catch {
    throw new ScoutError("not-found", `Local file not found: ${localPath}`);
  }
  return host.withSftp(
    async ({ sftp, home }) => {
      let target = resolveRemotePath(remotePath, home);
      const existing = await remoteStat(sftp, target);
      if (existing?.isDirectory()) target = posix.join(target, basename(localPath));
      const tmp = tmpName(target);
      const count = counter(size, opts.onProgress);
      try {
        await pipeline(
          createReadStream(localPath, { highWaterMark: HIGH_WATER }),
          count.stream,
          sftp.createWriteStream(tmp),
          ...(opts.signal ? [{ signal: opts.signal }] : []),
        );
        await sftpReplace(sftp, tmp, target);
      } catch (e) {
        unlinkQuietly(sftp, tmp);
        throw sftpError(e, target, "write");
      }
      return finish(started, count.bytes());
    },
    { idempotent: false, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
}

export async function download(
  host: HostAccess,
  remotePath: string,
  localPath: string,
  opts: TransferOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  return host.withSftp(
    async ({ sftp, home }) => {
      const source = resolveRemotePath(remotePath, home);
      const s = await sftpStat(sftp, source);
      if (!s.isFile())
        throw new ScoutError("not-a-file", `${source} is not a regular file: only files can be downloaded`);
      let target = localPath;
      try {
        if ((await stat(localPath)).isDirectory()) target = join(localPath, posix.basename(source));
      } catch {
        /* target doesn't exist yet */
      }
      // Before the temp file is made: a refused target gets no file written beside it either.
      await opts.guardTarget?.(target);
      const tmp = join(dirname(target), `.${basename(target)}.scout-tmp-${randomBytes(4).toString("hex")}`);
      const count = counter(s.size, opts.onProgress);
      try {
        await pipeline(
          sftp.createReadStream(source, { highWaterMark: HIGH_WATER }),
          count.stream,
          createWriteStream(tmp),
          ...(opts.signal ? [{ signal: opts.signal }] : []),
        );
        await rename(tmp, target);
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw sftpError(e, source, "download");
      }
      return finish(started, count.bytes());
    },
    { ...(opts.signal ? { signal: opts.signal } : {}) },
  );
}

export async function copyRemote(
  srcHost: HostAccess,
  srcPath: string,
  dstHost: HostAccess,
  dstPath: string,
  opts: TransferOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const sig = opts.signal ? { signal: opts.signal } : {};
  return srcHost.withSftp(
    async (src) => {
      const source = resolveRemotePath(srcPath, src.home);
      const s = await sftpStat(src.sftp, source);
      if (!s.isFile())
        throw new ScoutError("not-a-file", `${source} is not a regular file: only files can be copied`);
      return dstHost.withSftp(
        async (dst) => {
          let target = resolveRemotePath(dstPath, dst.home);
          const existing = await remoteStat(dst.sftp, target);
          if (existing?.isDirectory()) target = posix.join(target, posix.basename(source));
          const tmp = tmpName(target);
          const count = counter(s.size, opts.onProgress);
          try {
            await pipeline(
              src.sftp.createReadStream(source, { highWaterMark: HIGH_WATER }),
              count.stream,
              dst.sftp.createWriteStream(tmp),
              ...(opts.signal ? [{ signal: opts.signal }] : []),
            );
            await sftpReplace(dst.sftp, tmp, target);
          } catch (e) {
            unlinkQuietly(dst.sftp, tmp);
            throw sftpError(e, target, "copy to");
          }
          return finish(started, count.bytes());
        },
        { idempotent: false, ...sig },
      );
    },
    { idempotent: false, ...sig },
  );
}
