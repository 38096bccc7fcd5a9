import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Policy } from "../../src/guard/policy.js";
import { isScoutError } from "../../src/errors.js";

const policy = Policy.fromObject({
  hosts: {
    "web*": {
      commands: { allow: ["ls*", "grep *", "tail *"], deny: ["*rm *"] },
      paths: { allow: ["/var/log/**", "/etc/**"], deny: ["/etc/shadow"] },
    },
    "*": { commands: { deny: ["*sudo*"] } },
  },
});

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(isScoutError(e, "refused")).toBe(true);
    return (e as Error).message;
  }
  return "";
}

describe("Policy", () => {
  it("allows what an allow list matches", () => {
    expect(() => policy.checkCommand("web1", "ls -la")).not.toThrow();
    expect(() => policy.checkCommand("web1", "grep ERROR /var/log/app.log")).not.toThrow();
    expect(() => policy.checkPath("web1", "/var/log/nginx/access.log")).not.toThrow();
  });

  it("deny wins and names the rule", () => {
    expect(refusal(() => policy.checkCommand("web1", "ls; rm -rf /"))).toMatch(
      /deny rule '\*rm \*' for hosts 'web\*'/,
    );
    expect(refusal(() => policy.checkCommand("db1", "sudo reboot"))).toMatch(
      /deny rule '\*sudo\*' for hosts '\*'/,
    );
    expect(refusal(() => policy.checkPath("web1", "/etc/shadow"))).toMatch(/deny rule '\/etc\/shadow'/);
  });

  it("refuses what no allow list matches", () => {
    expect(refusal(() => policy.checkCommand("web1", "cat /etc/passwd"))).toMatch(
      /not in the allow list of host rule 'web\*'/,
    );
    expect(refusal(() => policy.checkPath("web1", "/root/.ssh/id_rsa"))).toMatch(/not in the allow list/);
  });

  it("hosts without allow lists are only subject to denies", () => {
    expect(() => policy.checkCommand("db1", "cat /etc/passwd")).not.toThrow();
    expect(() => policy.checkPath("db1", "/root")).not.toThrow();
  });

  it("loads YAML and JSON files, and rejects malformed ones clearly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "policy-"));
    writeFileSync(join(dir, "p.yaml"), 'hosts:\n  "*":\n    commands:\n      deny: ["reboot*"]\n');
    writeFileSync(
      join(dir, "p.json"),
      JSON.stringify({ hosts: { "*": { paths: { deny: ["/secret/**"] } } } }),
    );
    writeFileSync(join(dir, "bad.yaml"), "hosts:\n  web:\n    commandz: {}\n");
    const y = await Policy.load(join(dir, "p.yaml"));
    expect(refusal(() => y.checkCommand("x", "reboot now"))).toMatch(/reboot/);
    const j = await Policy.load(join(dir, "p.json"));
    expect(refusal(() => j.checkPath("x", "/secret/a/b"))).toMatch(/secret/);
    await expect(Policy.load(join(dir, "bad.yaml"))).rejects.toThrow(/Invalid SCOUT_POLICY_FILE/);
    await expect(Policy.load(join(dir, "missing.yaml"))).rejects.toThrow(/Cannot read/);
  });
});
