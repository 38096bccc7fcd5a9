/**
 * Commands through a real Fleet on a lab host: working directory, exit code and signal, output
 * caps, process-group kills on overflow, timeout and cancellation (checked with ps on the host),
 * and hostile working-directory paths that must never reach a shell unquoted.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isScoutError } from "../../src/errors.js";
import { runCommand } from "../../src/ops/exec.js";
import { makeFleet } from "../ssh/helpers.js";
import { eventually, startOpsLab, userProcesses, type OpsLab } from "./lab.js";

let ops: OpsLab;
let root: string;
const id = randomBytes(4).toString("hex");
/** What every hostile path tries to create if any shell ever interprets it. */
const canary = `pwned-${id}`;

/** A sleep duration no other test (or test file) uses, so that ps finds exactly our processes. */
const uniqueSleep = () => String(5000 + randomInt(4_000_000));

beforeAll(async () => {
  ops = await startOpsLab();
  root = join(ops.lab.hosts[0]!.root, "exec");
  await ops.lab.writeFile(join(root, "dir", "file.txt"), "x\n");
});

afterAll(async () => {
  await ops?.stop();
});

describe("runCommand", () => {
  it("runs in the working directory: a directory, a file's directory, ~ and ~/x", async () => {
    const host = ops.host();
    const pwd = async (cwd: string) => (await runCommand(host, "pwd", ops.limits(), { cwd })).stdout;
    expect(await pwd(`${root}/dir`)).toBe(`${root}/dir\n`);
    expect(await pwd(`${root}/dir/file.txt`)).toBe(`${root}/dir\n`);
    expect(await pwd("~")).toBe(`${ops.lab.home}\n`);
    const rel = root.startsWith(ops.lab.home + "/") ? root.slice(ops.lab.home.length + 1) : undefined;
    if (rel) expect(await pwd(`~/${rel}`)).toBe(`${root}\n`);
    // A missing directory is an error, not a command result: the command never ran.
    const missing = await runCommand(host, `echo ran > ${root}/ran.txt`, ops.limits(), {
      cwd: `${root}/nope`,
    }).catch((e: unknown) => e);
    expect(isScoutError(missing, "not-found")).toBe(true);
    expect((missing as Error).message).toBe(
      `Working directory not found: ${root}/nope; the command was not run`,
    );
    expect(existsSync(`${root}/ran.txt`)).toBe(false);
  });

  it("reports stdout, stderr, exit code and signal", async () => {
    const host = ops.host();
    const r = await runCommand(host, "echo out; echo err >&2; exit 3", ops.limits());
    expect(r).toMatchObject({ stdout: "out\n", stderr: "err\n", exitCode: 3, signal: null, timedOut: false });
    expect(r).toMatchObject({ stdoutTruncated: false, stderrTruncated: false, killed: false });
    const ok = await runCommand(host, "true | cat", ops.limits());
    expect(ok.exitCode).toBe(0);
    // The shell running the command is killed by a signal: reported as the signal, no exit code.
    const sig = await runCommand(host, "echo before; kill -TERM $$", ops.limits());
    expect(sig).toMatchObject({ stdout: "before\n", exitCode: null, signal: "SIGTERM" });
    // A child killed by a signal: its shell reports 128 + n, as any shell does.
    const child = await runCommand(host, "sh -c 'kill -KILL $$'", ops.limits());
    expect(child.exitCode).toBe(137);
  });

  it("caps stdout and stderr at the output cap each", async () => {
    const host = ops.host();
    const limits = ops.limits({ maxOutputSize: 1000 });
    const exact = await runCommand(host, "head -c 1000 /dev/zero | tr '\\0' a", limits);
    expect(exact).toMatchObject({ stdoutTruncated: false, killed: false, exitCode: 0 });
    expect(exact.stdout).toBe("a".repeat(1000));
    const out = await runCommand(host, "head -c 5000 /dev/zero | tr '\\0' a", limits);
    expect(out).toMatchObject({ stdoutTruncated: true, stderrTruncated: false });
    expect(out.stdout).toBe("a".repeat(1000));
    const err = await runCommand(host, "head -c 5000 /dev/zero | tr '\\0' b >&2", limits);
    expect(err).toMatchObject({ stdoutTruncated: false, stderrTruncated: true, stdout: "" });
    expect(err.stderr).toBe("b".repeat(1000));
    // Cut on a character boundary: 1000 bytes would split the 334th "€" (3 bytes each).
    const utf8 = await runCommand(host, "i=0; while [ $i -lt 400 ]; do printf '€'; i=$((i+1)); done", limits);
    expect(utf8.stdout).toBe("€".repeat(333));
  });

  it("on overflow kills the whole remote process group", async () => {
    const n = uniqueSleep();
    const r = await runCommand(host0(), `sleep ${n} & yes`, ops.limits({ maxOutputSize: 10_000 }));
    expect(r).toMatchObject({ stdoutTruncated: true, killed: true, timedOut: false });
    expect(r.stdout).toBe("y\n".repeat(5000));
    expect(await eventually(() => userProcesses(ops.lab.user, `sleep ${n}`).length === 0)).toBe(true);
    expect(await eventually(() => userProcesses(ops.lab.user, "yes").length === 0)).toBe(true);
  });

  it("SCOUT_COMMAND_TIMEOUT kills the whole process group, TERM-ignoring children included", async () => {
    const [a, b, c] = [uniqueSleep(), uniqueSleep(), uniqueSleep()];
    const running = runCommand(
      host0(),
      `sleep ${a} & (trap '' TERM; sleep ${b}) & sleep ${c}; echo never`,
      ops.limits({ commandTimeoutMs: 3000 }),
    );
    // The processes really ran (so that their absence afterwards means something), all in one
    // process group: the one that gets killed.
    let pgids = new Set<number>();
    const all = () => {
      const lines = [a, b, c].flatMap((n) => userProcesses(ops.lab.user, `sleep ${n}`));
      pgids = new Set(lines.map((l) => l.pgid));
      return lines.length === 3;
    };
    expect(await eventually(all)).toBe(true);
    expect(pgids.size).toBe(1);
    const r = await running;
    expect(r).toMatchObject({ timedOut: true, killed: true, exitCode: null, stdout: "" });
    expect(r.durationMs).toBeGreaterThanOrEqual(2900);
    expect(r.durationMs).toBeLessThan(15_000);
    for (const n of [a, b, c]) {
      expect(await eventually(() => userProcesses(ops.lab.user, `sleep ${n}`).length === 0)).toBe(true);
    }
  });

  it("cancellation kills the process group and rejects with the reason", async () => {
    const n = uniqueSleep();
    const controller = new AbortController();
    const running = runCommand(host0(), `sleep ${n}`, ops.limits(), { signal: controller.signal });
    expect(await eventually(() => userProcesses(ops.lab.user, `sleep ${n}`).length === 1)).toBe(true);
    controller.abort();
    const err = await running.catch((e: unknown) => e);
    expect(isScoutError(err, "aborted")).toBe(true);
    expect(await eventually(() => userProcesses(ops.lab.user, `sleep ${n}`).length === 0)).toBe(true);
  });

  it("shutting the fleet down kills running commands instead of leaving them on the host", async () => {
    const fleet = makeFleet(ops.lab, [{ alias: "own", port: ops.lab.hosts[0]!.port }]);
    const n = uniqueSleep();
    const running = runCommand(fleet.host("own"), `sleep ${n}`, ops.limits()).catch((e: unknown) => e);
    expect(await eventually(() => userProcesses(ops.lab.user, `sleep ${n}`).length === 1)).toBe(true);
    await fleet.close();
    const err = await running;
    expect(isScoutError(err, "aborted")).toBe(true);
    expect((err as Error).message).toBe("Scout is shutting down: the command was stopped before it finished");
    expect(await eventually(() => userProcesses(ops.lab.user, `sleep ${n}`).length === 0)).toBe(true);
  });

  it("hostile working directories ('$(…)', backticks, ;, newlines, quotes) execute nothing", async () => {
    const names = [
      `'$(touch ${canary})'`,
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `a; touch ${canary}`,
      `a\ntouch ${canary}`,
      `a' ; touch ${canary} ; echo '`,
      `-a && touch ${canary}`,
      `$HOME" ; touch ${canary} ; "`,
    ];
    const host = host0();
    for (const [i, name] of names.entries()) {
      const dir = join(root, "hostile", name);
      await ops.lab.writeFile(join(dir, "marker.txt"), `marker ${i}\n`);
      for (const cwd of [dir, join(dir, "marker.txt")]) {
        const r = await runCommand(host, "pwd; cat marker.txt", ops.limits(), { cwd });
        expect(r.stdout).toBe(`${dir}\nmarker ${i}\n`);
        expect(r.exitCode).toBe(0);
      }
      const missing = await runCommand(host, "true", ops.limits(), { cwd: join(dir, "missing", name) }).catch(
        (e: unknown) => e,
      );
      expect(isScoutError(missing, "not-found")).toBe(true);
    }
    // Nothing anywhere created the canary: not in the home (where the shell starts), not in the fleet.
    const found = execFileSync("find", [ops.lab.home, ops.lab.dir, "-name", canary], { encoding: "utf8" });
    expect(found).toBe("");
  });

  it("refuses a NUL byte in the command", async () => {
    const err = await runCommand(host0(), "echo a\0b", ops.limits()).catch((e: unknown) => e);
    expect(isScoutError(err, "invalid-input")).toBe(true);
  });
});

function host0() {
  return ops.host(0);
}
