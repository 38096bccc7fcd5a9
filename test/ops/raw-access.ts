/**
 * A HostAccess built on one raw ssh2 Client and one SFTP session, for the ops tests only (the real
 * pool lives in src/ssh). Exec channels go through the remote login shell like the pool's.
 */
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from "ssh2";
import type { HostConfig } from "../../src/config/host.js";
import { abortError } from "../../src/errors.js";
import type { ExecOptions, HostAccess, SftpContext, SftpOptions } from "../../src/ssh/types.js";

export interface RawAccess extends HostAccess {
  client: Client;
  /** Exec channels opened so far (tests check that kills open one). */
  readonly execCount: number;
  close(): void;
}

export async function rawAccess(config: ConnectConfig, alias = "raw"): Promise<RawAccess> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", reject);
    client.connect({ ...config, readyTimeout: 10_000 });
  });
  // Without this every small SFTP request / exec reply waits for Nagle (57 ms vs 12 ms per exec).
  client.setNoDelay(true);
  client.on("error", () => {}); // late errors surface through the calls that hit them
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
    client.sftp((err, s) => (err ? reject(err) : resolve(s))),
  );
  const home = await new Promise<string>((resolve, reject) =>
    sftp.realpath(".", (err, p) => (err ? reject(err) : resolve(p))),
  );
  const ctx: SftpContext = { sftp, home };
  const hostConfig: HostConfig = {
    alias,
    hostname: config.host ?? "127.0.0.1",
    port: config.port ?? 22,
    user: config.username ?? "",
    identityFiles: [],
    identitiesOnly: true,
    proxyJump: [],
  };
  let execCount = 0;
  return {
    config: hostConfig,
    client,
    get execCount() {
      return execCount;
    },
    withSftp<T>(fn: (c: SftpContext) => Promise<T>, options?: SftpOptions): Promise<T> {
      if (options?.signal?.aborted) return Promise.reject(abortError(options.signal, "SFTP"));
      return fn(ctx);
    },
    exec(command: string, options?: ExecOptions): Promise<ClientChannel> {
      if (options?.signal?.aborted) return Promise.reject(abortError(options.signal, "Exec"));
      execCount++;
      return new Promise((resolve, reject) =>
        client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))),
      );
    },
    close() {
      client.end();
    },
  };
}
