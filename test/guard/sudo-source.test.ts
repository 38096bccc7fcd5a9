/** Pure logic of sudo=true: where the password comes from, and the shape of the remote command. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Policy } from "../../src/guard/policy.js";
import { sudoPasswordFor } from "../../src/guard/sudo.js";
import { buildWrapper } from "../../src/ops/exec.js";

describe("sudo password source", () => {
  const dir = mkdtempSync(join(tmpdir(), "scout-sudo-"));
  const global = join(dir, "global");
  const web = join(dir, "web");
  writeFileSync(global, "global-pw\n");
  writeFileSync(web, "web-pw");
  const policy = Policy.fromObject({
    hosts: {
      "web*": { sudo: { passwordFile: web } },
      db1: { sudo: { password: "inline-pw" } },
      "*": { commands: { deny: ["reboot*"] } },
    },
  });

  it("policy entry per host first, then SCOUT_SUDO_PASSWORD_FILE, else none (sudo -n)", async () => {
    expect(await sudoPasswordFor("web3", policy, global)).toEqual({
      password: "web-pw",
      source: "SCOUT_POLICY_FILE rule 'web*'",
    });
    expect(await sudoPasswordFor("db1", policy, global)).toEqual({
      password: "inline-pw",
      source: "SCOUT_POLICY_FILE rule 'db1'",
    });
    expect(await sudoPasswordFor("other", policy, global)).toEqual({
      password: "global-pw",
      source: "SCOUT_SUDO_PASSWORD_FILE",
    });
    expect((await sudoPasswordFor("other", policy, undefined)).password).toBeUndefined();
  });

  it("unreadable or multi-line files are clear errors that never show the content", async () => {
    await expect(sudoPasswordFor("x", Policy.empty(), join(dir, "missing"))).rejects.toThrow(
      /Cannot read the sudo password file of SCOUT_SUDO_PASSWORD_FILE \(.*missing\): ENOENT/,
    );
    const two = join(dir, "two");
    writeFileSync(two, "secret-one\nsecret-two\n");
    const e = await sudoPasswordFor("x", Policy.empty(), two).then(
      () => new Error("no error"),
      (x: unknown) => x as Error,
    );
    expect(e.message).toMatch(/has more than one line/);
    expect(e.message).not.toContain("secret");
  });

  it("a sudo entry needs exactly one of password and passwordFile", () => {
    expect(() => Policy.fromObject({ hosts: { a: { sudo: {} } } })).toThrow(
      /exactly one of password or passwordFile/,
    );
    expect(() =>
      Policy.fromObject({ hosts: { a: { sudo: { password: "p", passwordFile: "/f" } } } }),
    ).toThrow(/exactly one/);
  });
});

describe("sudo command shape", () => {
  it("reads the password with -S -k from stdin, and the command's own stdin is /dev/null", () => {
    const w = buildWrapper("id -u", "/srv", { withPassword: true });
    expect(w).toContain(`( sudo -S -k -p '' -- /bin/sh -c 'exec </dev/null\nid -u' )`);
    expect(buildWrapper("id -u", undefined, { withPassword: false })).toContain("( sudo -n -- /bin/sh -c ");
    // The user's quotes stay inside one single-quoted word.
    expect(buildWrapper("echo 'a'", undefined, { withPassword: true })).toContain(
      `/bin/sh -c 'exec </dev/null\necho '\\''a'\\'''`,
    );
  });
});
