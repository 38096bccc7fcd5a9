/** What a fresh machine gets: install as root with apt-get, else the one command to run. */
import { mkdtempSync, rmSync, symlinkSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installDecision } from "../../src/cli/sshd-setup.js";

const bin = mkdtempSync(join(tmpdir(), "scout-setup-path-"));
const hasApt = existsSync("/usr/bin/apt-get");
if (hasApt) symlinkSync("/usr/bin/apt-get", join(bin, "apt-get"));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe.skipIf(!hasApt)("installDecision on a Debian-like PATH without ssh-keygen and ps", () => {
  const env = { PATH: bin };
  it("as root: installs what is missing, by the package names .ci/run uses", () => {
    expect(installDecision(env, 0)).toEqual({
      install: expect.arrayContaining(["openssh-client", "procps"]),
    });
  });

  it("as another user: the one command to run", () => {
    const d = installDecision(env, 1000);
    expect(d && "advise" in d && d.advise).toMatch(/^ {2}sudo apt-get install -y openssh-server$/m);
  });

  it("SCOUT_LAB_INSTALL=0 turns the install off", () => {
    const d = installDecision({ ...env, SCOUT_LAB_INSTALL: "0" }, 0);
    expect(d && "advise" in d).toBe(true);
  });

  it("nothing missing: nothing to do", () => {
    expect(installDecision(process.env, 0)).toBeUndefined();
  });
});
