/**
 * Durable jobs against real sshds: a job outlives the Fleet that started it and is read by a second
 * one; cancel kills the whole process group (checked with ps on the host), KILLing what ignores
 * TERM; the spool stops at its cap while the command runs on; a runner killed under the job shows
 * as lost; retention removes finished jobs; a dead host answers with a clear error.
 */
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isScoutError } from "../../src/errors.js";
import {
  cancelJob,
  followJob,
  jobStatus,
  listJobs,
  parseJobHandle,
  parseJobRecords,
  readJobOutput,
  startJob,
  waitJob,
} from "../../src/ops/jobs/jobs.js";
import { makeFleet } from "../ssh/helpers.js";
import { eventually, startOpsLab, type OpsLab } from "./lab.js";

let ops: OpsLab;
let root: string;
const HOME = "/home/scoutlab";
const spool = (id: string) => join(HOME, ".cache/scout-jobs", id);
const uniqueSleep = () => String(5000 + randomInt(4_000_000));
const CAP = 1 << 20;
/** Every job this file starts, removed from the lab user's spool afterwards. */
const created: string[] = [];
function track<T extends { id: string }>(j: T): T {
  created.push(j.id);
  return j;
}

/** Live processes of the lab user in process group `pgid` (ps on the host; zombies excluded). */
function groupMembers(pgid: number): string[] {
  let out = "";
  try {
    out = execFileSync("ps", ["-u", "scoutlab", "-o", "pgid=,stat=,args="], { encoding: "utf8" });
  } catch {
    return [];
  }
  return out
    .split("\n")
    .map((l) => /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) === pgid && !m[2]!.startsWith("Z"))
    .map((m) => m[3]!);
}

beforeAll(async () => {
  ops = await startOpsLab(2);
  root = join(ops.lab.hosts[0]!.root, "jobs");
  await ops.lab.writeFile(join(root, "keep.txt"), "x\n");
});

afterAll(async () => {
  await ops?.stop();
  for (const id of created) rmSync(spool(id), { recursive: true, force: true });
});

describe("durable jobs", () => {
  it("start answers at once; status, output and wait read the job back from the host", async () => {
    const host = ops.host();
    const started = performance.now();
    const job = track(
      await startJob(host, ops.limits(), {
        command: "echo one; echo err >&2; sleep 1; echo two; exit 3",
        cwd: root,
        capBytes: CAP,
      }),
    );
    expect(performance.now() - started).toBeLessThan(5000); // not the command's 1 s+, nor a hang
    expect(job.state).toBe("running");
    expect(job.pid).toBeGreaterThan(1);
    expect(job.handle).toBe(`${ops.lab.hosts[0]!.alias}/${job.id}`);
    expect(parseJobHandle(job.handle)).toEqual({ host: ops.lab.hosts[0]!.alias, id: job.id });
    // Private spool on the host: directory 0700, files 0600.
    expect(statSync(join(HOME, ".cache/scout-jobs")).mode & 0o777).toBe(0o700);
    expect(statSync(join(spool(job.id), "cmd")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(spool(job.id), "cwd"), "utf8")).toBe(root);
    // The pid answered at once is the runner's own record: session and process group leader.
    expect(await eventually(() => existsSync(join(spool(job.id), "pid")))).toBe(true);
    expect(readFileSync(join(spool(job.id), "pid"), "utf8").split(" ")[0]).toBe(String(job.pid));

    const running = await jobStatus(host, job.id, ops.limits());
    expect(running.state).toBe("running");
    expect(running.command).toBe("echo one; echo err >&2; sleep 1; echo two; exit 3");

    const done = await waitJob(host, job.id, ops.limits(), { maxMs: 10_000 });
    expect(done).toMatchObject({ state: "exited", exitCode: 3, cwd: root });
    expect(done.endedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt.getTime());
    const out = await readJobOutput(host, job.id, ops.limits());
    expect(out.content).toBe("one\nerr\ntwo\n");
    expect((await readJobOutput(host, job.id, ops.limits(), { tail: 1 })).content).toBe("two\n");
    expect((await readJobOutput(host, job.id, ops.limits(), { offset: 4, length: 3 })).content).toBe("err");
  });

  it("a job outlives the fleet that started it and a second fleet reads, follows and waits for it", async () => {
    const a = makeFleet(ops.lab, [{ alias: "h0", port: ops.lab.hosts[0]!.port }]);
    const job = track(
      await startJob(a.host("h0"), ops.limits(), {
        command: "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.4; done",
        cwd: root,
        capBytes: CAP,
      }),
    );
    await a.close(); // Scout "restarts": every connection of the first instance is gone
    const b = makeFleet(ops.lab, [{ alias: "h0", port: ops.lab.hosts[0]!.port }]);
    try {
      const seen = await jobStatus(b.host("h0"), job.id, ops.limits());
      expect(seen.state).toBe("running");
      const chunks: string[] = [];
      const f = await followJob(b.host("h0"), job.id, ops.limits(), {
        fromOffset: 0,
        maxMs: 15_000,
        onChunk: (t) => chunks.push(t),
      });
      expect(f.text).toBe([1, 2, 3, 4, 5, 6].map((i) => `tick ${i}\n`).join(""));
      expect(chunks.length).toBeGreaterThan(1); // it arrived piece by piece, not at the end
      expect(f.job).toMatchObject({ state: "exited", exitCode: 0 });
      expect(f.nextOffset).toBe(Buffer.byteLength(f.text));
      const { jobs } = await listJobs(b.host("h0"), ops.limits(), { retentionS: 0 });
      expect(jobs.map((j) => j.id)).toContain(job.id);
    } finally {
      await b.close();
    }
  });

  it("cancel TERMs the whole process group on the host", async () => {
    const host = ops.host();
    const s1 = uniqueSleep();
    const s2 = uniqueSleep();
    const job = track(
      await startJob(host, ops.limits(), {
        command: `sleep ${s1} & sleep ${s2} & wait`,
        cwd: root,
        capBytes: CAP,
      }),
    );
    const pgid = job.pid!;
    expect(await eventually(() => groupMembers(pgid).filter((a) => a.startsWith("sleep")).length === 2)).toBe(
      true,
    );
    const r = await cancelJob(host, job.id, ops.limits(), { graceS: 3 });
    expect(r.outcome).toBe("terminated");
    expect(r.job).toMatchObject({ state: "cancelled", signal: "TERM" });
    expect(await eventually(() => groupMembers(pgid).length === 0, 3000)).toBe(true);
    // Cancelling again is harmless and says so.
    expect((await cancelJob(host, job.id, ops.limits(), { graceS: 1 })).outcome).toBe("already-ended");
  });

  it("cancel KILLs a group that ignores TERM, after the grace", async () => {
    const host = ops.host();
    const s = uniqueSleep();
    const job = track(
      await startJob(host, ops.limits(), {
        command: `trap '' TERM; sleep ${s}`,
        cwd: root,
        capBytes: CAP,
      }),
    );
    const pgid = job.pid!;
    expect(await eventually(() => groupMembers(pgid).some((a) => a === `sleep ${s}`))).toBe(true);
    const r = await cancelJob(host, job.id, ops.limits(), { graceS: 0.5 });
    expect(r.outcome).toBe("killed");
    expect(r.job).toMatchObject({ state: "cancelled", signal: "KILL" });
    expect(await eventually(() => groupMembers(pgid).length === 0, 3000)).toBe(true);
  });

  it("the spool stops at its cap while the command runs to its end", async () => {
    const host = ops.host();
    // 200,000 bytes of output against a 10,000-byte cap; the command must not die of SIGPIPE.
    const job = track(
      await startJob(host, ops.limits(), {
        command: "i=0; while [ $i -lt 2000 ]; do printf '%099d\\n' $i; i=$((i+1)); done; echo finished >&2",
        cwd: root,
        capBytes: 10_000,
      }),
    );
    const done = await waitJob(host, job.id, ops.limits(), { maxMs: 20_000 });
    expect(done).toMatchObject({ state: "exited", exitCode: 0, capBytes: 10_000, outputBytes: 10_000 });
    expect(done.droppedBytes).toBe(200_000 + "finished\n".length - 10_000);
    expect(statSync(join(spool(job.id), "output")).size).toBe(10_000);
  });

  it("a runner killed under its job shows as lost, not running", async () => {
    const host = ops.host();
    const s = uniqueSleep();
    const job = track(
      await startJob(host, ops.limits(), { command: `sleep ${s}`, cwd: root, capBytes: CAP }),
    );
    expect(await eventually(() => existsSync(join(spool(job.id), "pid")))).toBe(true);
    process.kill(-job.pid!, "SIGKILL"); // the host "crashes" the whole job: nobody writes a status
    expect(await eventually(() => groupMembers(job.pid!).length === 0)).toBe(true);
    expect((await jobStatus(host, job.id, ops.limits())).state).toBe("lost");
    expect((await cancelJob(host, job.id, ops.limits(), { graceS: 1 })).outcome).toBe("lost");
  });

  it("a missing working directory starts nothing; an unknown job id is a clear not-found", async () => {
    const host = ops.host();
    await expect(
      startJob(host, ops.limits(), { command: "true", cwd: `${root}/nope`, capBytes: CAP }),
    ).rejects.toThrow(/Working directory not found: .*nope; the job was not started/);
    const err = await jobStatus(host, "20000101-000000-abcdef", ops.limits()).catch((e: unknown) => e);
    expect(isScoutError(err, "not-found")).toBe(true);
    expect(String(err)).toMatch(/No job .*\/20000101-000000-abcdef/);
    expect(() => parseJobHandle("h0/../../etc")).toThrow(/Invalid job handle/);
  });

  it("listing removes finished jobs older than the retention, and keeps running ones", async () => {
    const host = ops.host();
    const s = uniqueSleep();
    const quick = track(await startJob(host, ops.limits(), { command: "true", cwd: root, capBytes: CAP }));
    const slow = track(
      await startJob(host, ops.limits(), { command: `sleep ${s}`, cwd: root, capBytes: CAP }),
    );
    await waitJob(host, quick.id, ops.limits(), { maxMs: 10_000 });
    // Ended two hours ago, as its status says: a one-hour retention removes it. (Not a short
    // retention: the spool is the lab user's, shared with test files running in parallel.)
    writeFileSync(join(spool(quick.id), "status"), `0 ${Math.floor(Date.now() / 1000) - 7200}\n`);
    const { jobs, removed } = await listJobs(host, ops.limits(), { retentionS: 3600 });
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(existsSync(spool(quick.id))).toBe(false);
    expect(jobs.find((j) => j.id === slow.id)?.state).toBe("running");
    await cancelJob(host, slow.id, ops.limits(), { graceS: 1 });
  });

  it("a dead host answers job queries with an error that names it and says the job is unaffected", async () => {
    const host = ops.host(1);
    const job = track(
      await startJob(host, ops.limits(), {
        command: "sleep 2",
        cwd: ops.lab.hosts[1]!.root,
        capBytes: CAP,
      }),
    );
    await ops.lab.hosts[1]!.stop();
    for (const q of [
      () => jobStatus(host, job.id, ops.limits()),
      () => readJobOutput(host, job.id, ops.limits()),
      () => listJobs(host, ops.limits(), { retentionS: 0 }),
    ]) {
      const e = await q().catch((x: unknown) => x);
      expect(isScoutError(e)).toBe(true);
      expect(String((e as Error).message)).toMatch(new RegExp(`Cannot reach ${ops.lab.hosts[1]!.alias} for`));
      expect((e as { hint?: string }).hint).toMatch(/Jobs live on the host and are unaffected/);
    }
  });
});

describe("parseJobRecords", () => {
  it("reads states, signals and sizes from the script's answer", () => {
    const id = (n: number) => `20261203-00000${n}-aaaaaa`;
    const f = (n: number, file: string, lines: string[]) => lines.map((l) => `${id(n)}/${file}:${l}`);
    const out = [
      `\x1eALIVE ${id(4)} 0`,
      `\x1eALIVE ${id(6)} 1`,
      `\x1eREMOVED ${id(5)}`,
      "\x1eFILES",
      ...f(1, "meta", ["started=100", "cap=50", "sudo=0"]),
      ...f(1, "status", ["0 110"]),
      ...f(1, "pid", ["7 123"]),
      ...f(1, "cwd", ["/"]),
      ...f(2, "meta", ["started=100"]),
      ...f(2, "status", ["143 110"]),
      ...f(3, "meta", ["started=100"]),
      ...f(3, "status", ["143 110"]),
      ...f(3, "cancel", ["105 TERM"]),
      ...f(4, "meta", ["started=100"]),
      ...f(6, "meta", ["started=100", "sudo=1"]),
      ...f(6, "pid", ["9 456"]),
      "\x1eCMDS",
      ...f(1, "cmd", ["true"]),
      ...f(3, "cmd", ["a\x1fb"]),
      "\x1eSIZES",
      `     12 ${id(1)}/output`,
      "     12 total",
      "\x1eNOW 200",
    ].join("\n");
    const { jobs, removed } = parseJobRecords("h", out);
    expect(removed).toBe(1);
    expect(jobs.map((j) => [j.state, j.exitCode, j.signal ?? null])).toEqual([
      ["exited", 0, null],
      ["killed", 143, "TERM"],
      ["cancelled", 143, "TERM"],
      ["lost", null, null],
      ["running", null, null],
    ]);
    expect(jobs[0]).toMatchObject({ outputBytes: 12, capBytes: 50, cwd: "/", command: "true", pid: 7 });
    expect(jobs[2]!.command).toBe("a\nb");
    expect(jobs[4]).toMatchObject({ sudo: true, pid: 9 });
  });
});
