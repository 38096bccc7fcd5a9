/**
 * `sudo=true` against the real fleet: the lab user gets a password and a sudoers rule that requires
 * it; Scout feeds the password to `sudo -S` over the channel's stdin. The password must never show
 * up in the answer, the audit log, the server log or any process's command line.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_USER } from "../../src/lab/fleet.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import {
  captureLogger,
  connectClient,
  processesMatching,
  startServer,
  uniqueSleep,
  waitFor,
} from "./helpers.js";

const canSudo = process.getuid?.() === 0 && existsSync("/usr/bin/sudo");
const SUDOERS = `/etc/sudoers.d/scout-guard-test-${process.pid}`;

let lab: LabFleet;
let password: string;
let passwordFile: string;

beforeAll(async () => {
  if (!canSudo) return;
  lab = await startFleet({ hosts: 2 });
  password = `pw-${randomBytes(9).toString("base64url")}`;
  execFileSync("chpasswd", { input: `${LAB_USER}:${password}\n` });
  const rule = [
    `Defaults:${LAB_USER} lecture=never, passwd_tries=1, !mail_badpass`,
    `${LAB_USER} ALL=(ALL) ALL`,
    "",
  ].join("\n");
  writeFileSync(`${SUDOERS}.tmp`, rule, { mode: 0o440 });
  const check = spawnSync("visudo", ["-cf", `${SUDOERS}.tmp`]);
  if (check.status !== 0) throw new Error(`bad sudoers drop-in: ${String(check.stderr)}`);
  execFileSync("mv", [`${SUDOERS}.tmp`, SUDOERS]);
  passwordFile = join(lab.dir, "sudo-password");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  if (!canSudo) return;
  rmSync(SUDOERS, { force: true });
  rmSync(`${SUDOERS}.tmp`, { force: true });
  // Back to "no password, key-only" as the lab fleet sets it up.
  spawnSync("usermod", ["-p", "*", LAB_USER]);
  await lab?.stop();
});

/** Job directories in the lab user's spool (what a started job leaves behind). */
function spoolEntries(): string[] {
  const spool = join("/home", LAB_USER, ".cache/scout-jobs");
  return existsSync(spool) ? readdirSync(spool).sort() : [];
}

/** Whether a spool entry is a job started with sudo (its meta says `sudo=1`). */
function isSudoJob(entry: string): boolean {
  const meta = join("/home", LAB_USER, ".cache/scout-jobs", entry, "meta");
  return existsSync(meta) && readFileSync(meta, "utf8").includes("sudo=1");
}

describe.skipIf(!canSudo)("sudo=true", () => {
  it("runs as root with the password fed over stdin; the password appears nowhere", async () => {
    const auditLog = join(lab.dir, "audit-sudo.jsonl");
    const cap = captureLogger("debug");
    const srv = await startServer(lab, { sudoPasswordFile: passwordFile, auditLog }, cap.log);
    const c = await connectClient(srv.url);
    const h0 = lab.hosts[0]!;
    try {
      const plain = await c.call({ target: `${h0.alias}:${h0.root}`, query: "id -u" });
      expect(plain.text).not.toBe("0"); // without sudo: the unprivileged lab user
      const r = await c.call({ target: `${h0.alias}:${h0.root}`, query: "id -u", sudo: true });
      expect(r.isError).toBeFalsy();
      expect(r.text).toBe("0");
      expect(r.structuredContent).toMatchObject({ mode: "command", sudo: true, exitCode: 0 });
      // Runs in the target directory, pipes work, and stdin is not the password.
      const cwd = await c.call({
        target: `${h0.alias}:${h0.root}`,
        query: "pwd; cat; whoami | tr a-z A-Z",
        sudo: true,
      });
      expect(cwd.text).toBe(`${h0.root}\nROOT`);

      // While a sudo command runs, no command line on the machine carries the password.
      const sleep = uniqueSleep(3);
      const running = c.call({ target: `${h0.alias}:/tmp`, query: sleep, sudo: true });
      await waitFor(() => processesMatching(sleep).length > 0, 10_000, "the sudo'd sleep");
      const ps = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
      expect(ps).toContain(sleep);
      expect(ps).not.toContain(password);
      expect(processesMatching(password)).toEqual([]);
      expect((await running).isError).toBeFalsy();

      // Broadcast with sudo too.
      const b = await c.call({
        targets: [`${h0.alias}:/tmp`, `${lab.hosts[1]!.alias}:/tmp`],
        query: "id -u",
        sudo: true,
      });
      expect(b.text).toContain("─── 2/2 hosts succeeded ───");
      expect(b.text.match(/^0$/gm)).toHaveLength(2);
      for (const t of [plain.text, r.text, cwd.text, b.text]) expect(t).not.toContain(password);
    } finally {
      await c.close();
      await srv.close();
    }
    const audit = readFileSync(auditLog, "utf8");
    expect(audit).not.toContain(password);
    const records = audit
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[1]).toMatchObject({ mode: "command", command: "id -u", sudo: true, exitCode: 0 });
    expect(cap.text()).not.toContain(password);
  });

  it("a background job with sudo=true runs as root; the password is in no spool file or command line", async () => {
    const srv = await startServer(lab, { sudoPasswordFile: passwordFile });
    const c = await connectClient(srv.url);
    const h0 = lab.hosts[0]!;
    const spool = "/home/scoutlab/.cache/scout-jobs";
    let id = "";
    try {
      const sleep = uniqueSleep(2);
      const r = await c.call({
        target: `${h0.alias}:${h0.root}`,
        query: `id -u; pwd; cat; ${sleep}; whoami`,
        sudo: true,
        background: true,
      });
      expect(r.isError).toBeFalsy();
      const job = (r.structuredContent as { job: { handle: string; id: string } }).job;
      id = job.id;
      await waitFor(() => processesMatching(sleep).length > 0, 10_000, "the job's sleep");
      expect(processesMatching(password)).toEqual([]);
      const done = await c.call({ job: job.handle, job_action: "wait", wait: 20 });
      expect(done.text).toMatch(/: exited 0 after/);
      const out = await c.call({ job: job.handle, job_action: "output" });
      expect(out.text).toMatch(new RegExp(`^0\n${h0.root}\nroot\n\\[job `));
      for (const f of execFileSync("ls", [join(spool, id)], { encoding: "utf8" })
        .trim()
        .split("\n")) {
        expect(readFileSync(join(spool, id, f), "utf8")).not.toContain(password);
      }
    } finally {
      await c.close();
      await srv.close();
      if (id) rmSync(join(spool, id), { recursive: true, force: true });
    }
  });

  it("a wrong password, a per-host policy entry, no password at all: each gives a clear answer", async () => {
    const policyFile = join(lab.dir, "sudo-policy.yaml");
    const perHostFile = join(lab.dir, "host-0-password");
    writeFileSync(perHostFile, password, { mode: 0o600 });
    writeFileSync(
      policyFile,
      [
        "hosts:",
        `  "${lab.hosts[0]!.alias}":`,
        `    sudo: { passwordFile: "${perHostFile}" }`,
        `  "${lab.hosts[1]!.alias}":`,
        `    sudo: { password: "definitely-wrong" }`,
        "",
      ].join("\n"),
    );
    const srv = await startServer(lab, { policyFile });
    const c = await connectClient(srv.url);
    try {
      const ok = await c.call({ target: `${lab.hosts[0]!.alias}:/tmp`, query: "id -u", sudo: true });
      expect(ok.text).toBe("0");
      const wrong = await c.call({ target: `${lab.hosts[1]!.alias}:/tmp`, query: "id -u", sudo: true });
      expect(wrong.isError).toBe(true);
      expect(wrong.text).toBe(
        `Error: sudo rejected the password from SCOUT_POLICY_FILE rule '${lab.hosts[1]!.alias}'. Ask the operator to check that password file`,
      );
      expect(wrong.text).not.toContain("definitely-wrong");
      // A background job asks sudo before it detaches: the same answer at once, and no job.
      const jobsBefore = spoolEntries();
      const wrongJob = await c.call({
        target: `${lab.hosts[1]!.alias}:/tmp`,
        query: "id -u",
        sudo: true,
        background: true,
      });
      expect(wrongJob.isError).toBe(true);
      expect(wrongJob.text).toBe(
        `Error: sudo rejected the password from SCOUT_POLICY_FILE rule '${lab.hosts[1]!.alias}'; the job was not started on ${lab.hosts[1]!.alias}. Ask the operator to check that password file`,
      );
      expect(wrongJob.text).not.toContain("definitely-wrong");
      // The spool is the lab user's, shared with test files running in parallel: look for a
      // new sudo job only (no other suite starts one).
      expect(spoolEntries().filter((e) => !jobsBefore.includes(e) && isSudoJob(e))).toEqual([]);
      const noQuery = await c.call({ target: `${lab.hosts[0]!.alias}:/tmp`, sudo: true });
      expect(noQuery.text).toBe("Error: sudo=true needs a query: it runs that command as root");
    } finally {
      await c.close();
      await srv.close();
    }
    const bare = await startServer(lab, {});
    const c2 = await connectClient(bare.url);
    try {
      const none = await c2.call({ target: `${lab.hosts[0]!.alias}:/tmp`, query: "id -u", sudo: true });
      expect(none.text).toMatch(
        /^Error: sudo needs a password on this host and none is configured\. Set SCOUT_SUDO_PASSWORD_FILE/,
      );
      const noneJob = await c2.call({
        target: `${lab.hosts[0]!.alias}:/tmp`,
        query: "id -u",
        sudo: true,
        background: true,
      });
      expect(noneJob.text).toMatch(
        /^Error: sudo needs a password on this host and none is configured; the job was not started on .*\. Set SCOUT_SUDO_PASSWORD_FILE/,
      );
      const missing = await startServer(lab, { sudoPasswordFile: join(lab.dir, "no-such-file") });
      const c3 = await connectClient(missing.url);
      const m = await c3.call({ target: `${lab.hosts[0]!.alias}:/tmp`, query: "id -u", sudo: true });
      expect(m.text).toMatch(
        /^Error: Cannot read the sudo password file of SCOUT_SUDO_PASSWORD_FILE \(.*no-such-file\): ENOENT/,
      );
      await c3.close();
      await missing.close();
    } finally {
      await c2.close();
      await bare.close();
    }
  });
});
