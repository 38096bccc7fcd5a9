/**
 * Fake `docker`, `zfs`, `zpool` and `journalctl` for one lab host: small shell scripts that print
 * realistic fixed output (the formats Scout asks for) and log every invocation, put first on that
 * host's PATH with sshd's `SetEnv PATH=…`. Another host gets a bare PATH without any of them.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Shims {
  /** Directory with the fake tools (first on the rich host's PATH). */
  richBin: string;
  /** Directory with only basic utilities (the whole PATH of the bare host). */
  bareBin: string;
  /** Every fake-tool invocation is appended here as "tool args…". */
  callsLog: string;
  /** The compose file the fake `docker compose ls` points at, and its content. */
  composeFile: string;
  composeYaml: string;
  remove(): void;
}

/** Makes the shim directories (world-readable: sshd sessions run as the lab user). */
export function makeShims(): Shims {
  const dir = mkdtempSync(join(tmpdir(), "scout-shims-"));
  chmodSync(dir, 0o755);
  const richBin = join(dir, "rich");
  const bareBin = join(dir, "bare");
  mkdirSync(richBin, { mode: 0o755 });
  mkdirSync(bareBin, { mode: 0o755 });
  const callsLog = join(dir, "calls.log");
  writeFileSync(callsLog, "", { mode: 0o666 });
  chmodSync(callsLog, 0o666);
  const composeYaml = "services:\n  web:\n    image: nginx:1.25\n  db:\n    image: postgres:16\n";
  const composeFile = join(dir, "shop", "compose.yaml");
  mkdirSync(join(dir, "shop"), { mode: 0o755 });
  writeFileSync(composeFile, composeYaml, { mode: 0o644 });
  const sh = (body: string) => `#!/bin/sh\necho "$(basename "$0") $*" >> '${callsLog}'\n${body}\n`;

  const tools: Record<string, string> = {
    docker: `for a; do last=$a; done
case "$1" in
  ps) printf 'web\\tUp 3 hours\\tnginx:1.25\\nworker\\tExited (0) 2 days ago\\tpython:3.12-slim\\n' ;;
  logs)
    if [ "$last" = web ]; then
      printf '2026-01-05T10:00:00.000000000Z 172.17.0.1 - - "GET / HTTP/1.1" 200 615\\n'
      printf '2026-01-05T10:00:01.000000000Z 172.17.0.1 - - "GET /favicon.ico HTTP/1.1" 404 153\\n'
    else
      echo "Error response from daemon: No such container: $last" >&2; exit 1
    fi ;;
  compose)
    if [ "$2" = ls ]; then
      printf '[{"Name":"shop","Status":"running(2)","ConfigFiles":"${composeFile}"}]\\n'
    elif [ "$2" = -p ] && [ "$3" = shop ]; then
      printf 'shop-web-1  | 2026-01-05T10:00:00Z listening on :8080\\nshop-db-1   | 2026-01-05T10:00:00Z ready for connections\\n'
    else
      echo "no configuration file provided: not found" >&2; exit 1
    fi ;;
  *) echo "docker: '$1' is not a docker command." >&2; exit 1 ;;
esac`,
    zpool: `case "$1" in
  list) printf 'tank\\t928G\\t412G\\t516G\\t44%%\\tONLINE\\nbackup\\t3.62T\\t1.10T\\t2.52T\\t30%%\\tDEGRADED\\n' ;;
  status)
    if [ "$2" = tank ]; then
      printf '  pool: tank\\n state: ONLINE\\n  scan: scrub repaired 0B in 00:12:34 with 0 errors\\nconfig:\\n\\n\\tNAME        STATE     READ WRITE CKSUM\\n\\ttank        ONLINE       0     0     0\\n\\t  mirror-0  ONLINE       0     0     0\\n\\nerrors: No known data errors\\n'
    else
      echo "cannot open '$2': no such pool" >&2; exit 1
    fi ;;
esac`,
    zfs: `for a; do last=$a; done
case "$*" in
  *snapshot*) printf 'tank/home@daily-2026-01-04\\t1.2M\\tSun Jan  4  0:00 2026\\ntank/home@daily-2026-01-05\\t800K\\tMon Jan  5  0:00 2026\\n' ;;
  *)
    if [ "$last" = tank ]; then
      printf 'tank\\t412G\\t516G\\t96K\\t/tank\\ntank/home\\t300G\\t516G\\t300G\\t/home\\n'
    else
      echo "cannot open '$last': dataset does not exist" >&2; exit 1
    fi ;;
esac`,
    journalctl: `printf 'Jan 05 10:00:00 lab systemd[1]: Started Daily apt upgrade.\\nJan 05 10:00:01 lab sshd[42]: Accepted publickey for scoutlab\\n'`,
  };
  for (const [name, body] of Object.entries(tools)) {
    const file = join(richBin, name);
    writeFileSync(file, sh(body), { mode: 0o755 });
    chmodSync(file, 0o755);
  }
  // The bare host: only what the exec wrapper and the kill path may need.
  for (const tool of ["sleep", "tail", "cat", "dirname", "ls", "kill", "env"]) {
    const target = ["/bin", "/usr/bin"].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (target) symlinkSync(target, join(bareBin, tool));
  }
  return {
    richBin,
    bareBin,
    callsLog,
    composeFile,
    composeYaml,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
