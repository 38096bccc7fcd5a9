/**
 * Identity selection in OpenSSH's order (sshconnect2.c pubkey_prepare), on real key files made by
 * ssh-keygen: CertificateFile certificates, then the agent, then the IdentityFiles each followed by
 * its -cert.pub; defaults are whatever the config layer resolved (HostConfig.defaultIdentities);
 * IdentityFile none and IdentityAgent none mean none.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { certificateBlob, parseCertificate } from "../../src/config/certificate.js";
import type { HostConfig } from "../../src/config/host.js";
import { RestrictedAgent, resolveIdentities, type Identity } from "../../src/config/identities.js";
import { isScoutError } from "../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "scout-ids-"));

function genKey(name: string, passphrase = ""): { priv: string; blob: Buffer } {
  const priv = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", priv, "-C", ""]);
  const pub = readFileSync(`${priv}.pub`, "utf8").trim();
  return { priv, blob: Buffer.from(pub.split(" ")[1]!, "base64") };
}

function sign(ca: string, pub: string, extra: string[] = []): void {
  execFileSync("ssh-keygen", [
    "-q",
    "-s",
    ca,
    "-I",
    "test-id",
    "-n",
    "alice,bob",
    "-V",
    "-5m:+1h",
    ...extra,
    pub,
  ]);
}

function host(over: Partial<HostConfig> = {}): HostConfig {
  return {
    alias: "h",
    hostname: "example.org",
    port: 22,
    user: "u",
    identityFiles: [],
    identitiesOnly: false,
    proxyJump: [],
    ...over,
  };
}

function shape(methods: Identity[]): string[] {
  return methods.map((m) =>
    m.kind === "agent"
      ? `agent${m.agent instanceof RestrictedAgent ? "(restricted)" : `:${String(m.agent)}`}`
      : `${m.path.replace(dir + "/", "")}${m.certificate ? `+${m.certificate.path.replace(dir + "/", "")}` : ""}`,
  );
}

const ca = genKey("ca");
const a = genKey("a");
const b = genKey("b");
sign(ca.priv, `${b.priv}.pub`); // b-cert.pub beside b
const c = genKey("c");
sign(ca.priv, `${c.priv}.pub`);
const cCert = join(dir, "c-elsewhere.pub");
writeFileSync(cCert, readFileSync(`${c.priv}-cert.pub`));
execFileSync("rm", [`${c.priv}-cert.pub`]);

describe("identity order", () => {
  it("CertificateFile first, then the agent, then IdentityFiles each followed by its -cert.pub", async () => {
    const r = await resolveIdentities(
      host({ identityFiles: [a.priv, b.priv, c.priv], certificateFiles: [cCert] }),
      { agentSocket: "/tmp/agent.sock" },
    );
    expect(shape(r.methods)).toEqual([
      "c+c-elsewhere.pub",
      "agent:/tmp/agent.sock",
      "a",
      "b",
      "b+b-cert.pub",
      "c",
    ]);
    expect(r.problems).toEqual([]);
  });

  it("only the configured files: no default keys are added here (the config layer resolves them)", async () => {
    const r = await resolveIdentities(host({ identityFiles: [a.priv] }), { agentSocket: undefined });
    expect(shape(r.methods)).toEqual(["a"]);
  });

  it("a missing configured key is a problem, a missing default is not", async () => {
    const missing = join(dir, "nope");
    const configured = await resolveIdentities(host({ identityFiles: [a.priv, missing] }), {
      agentSocket: undefined,
    });
    expect(configured.problems).toEqual([`IdentityFile ${missing} does not exist`]);
    const defaults = await resolveIdentities(
      host({ identityFiles: [a.priv, missing], defaultIdentities: true }),
      {
        agentSocket: undefined,
      },
    );
    expect(defaults.problems).toEqual([]);
  });

  it("IdentityFile none and no agent: nothing to offer, and the error says why", async () => {
    const e = await resolveIdentities(host({ identityFiles: [] }), { agentSocket: undefined }).catch(
      (x: unknown) => x,
    );
    expect(isScoutError(e, "key-unusable")).toBe(true);
    expect((e as Error).message).toMatch(/IdentityFile none/);
  });

  it("IdentityAgent: a path overrides SSH_AUTH_SOCK, none turns the agent off", async () => {
    const viaPath = await resolveIdentities(
      host({ identityFiles: [a.priv], identityAgent: "/run/other.sock" }),
      {
        agentSocket: "/tmp/agent.sock",
      },
    );
    expect(viaPath.agent).toBe("/run/other.sock");
    const off = await resolveIdentities(host({ identityFiles: [a.priv], identityAgent: "none" }), {
      agentSocket: "/tmp/agent.sock",
    });
    expect(off.agent).toBeUndefined();
    expect(shape(off.methods)).toEqual(["a"]);
  });

  it("IdentitiesOnly restricts the agent to the configured keys", async () => {
    const r = await resolveIdentities(host({ identityFiles: [a.priv], identitiesOnly: true }), {
      agentSocket: "/tmp/agent.sock",
    });
    expect(shape(r.methods)).toEqual(["agent(restricted)", "a"]);
  });

  it("an encrypted key without a passphrase source gives a clear error", async () => {
    const enc = genKey("encrypted", "secret");
    const e = await resolveIdentities(host({ identityFiles: [enc.priv, join(dir, "missing")] }), {
      agentSocket: undefined,
    }).catch((x: unknown) => x);
    expect(isScoutError(e, "key-unusable")).toBe(true);
    expect((e as Error).message).toMatch(
      /is encrypted and Scout has no passphrase for it: add it to ssh-agent/,
    );
    expect((e as Error).message).toMatch(/does not exist/);
  });

  it("a FIDO (sk-*) key is named as what ssh2 cannot use", async () => {
    // The shape of an OpenSSH sk-ssh-ed25519 private key file (no FIDO token needed to make one).
    const str = (s: string | Buffer) => {
      const v = Buffer.from(s);
      const n = Buffer.alloc(4);
      n.writeUInt32BE(v.length);
      return Buffer.concat([n, v]);
    };
    const body = Buffer.concat([
      Buffer.from("openssh-key-v1\0"),
      str("none"),
      str("none"),
      str(""),
      Buffer.from([0, 0, 0, 1]),
      str(Buffer.concat([str("sk-ssh-ed25519@openssh.com"), str(Buffer.alloc(32)), str("ssh:")])),
    ]);
    const sk = join(dir, "id_ed25519_sk");
    writeFileSync(
      sk,
      `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`,
    );
    const r = await resolveIdentities(host({ identityFiles: [sk, a.priv] }), { agentSocket: undefined });
    expect(r.problems[0]).toMatch(
      /is a FIDO security key \(sk-ssh-ed25519@openssh.com\): .*ssh2\) cannot use sk-\* keys/,
    );
  });
});

describe("certificates", () => {
  it("parses what ssh-keygen signed: type, certified key, principals, CA", () => {
    const info = parseCertificate(certificateBlob(readFileSync(`${b.priv}-cert.pub`, "utf8"))!);
    expect(info).toMatchObject({ type: "ssh-ed25519-cert-v01@openssh.com", certType: 1, keyId: "test-id" });
    expect(info!.principals).toEqual(["alice", "bob"]);
    expect(info!.publicBlob.equals(b.blob)).toBe(true);
    expect(info!.signatureKey.equals(ca.blob)).toBe(true);
  });

  it("an expired certificate, a host certificate, and one for another key are problems, not offers", async () => {
    const d = genKey("d");
    sign(ca.priv, `${d.priv}.pub`, ["-V", "20200101:20200102"]);
    const hostCert = genKey("hostkey");
    sign(ca.priv, `${hostCert.priv}.pub`, ["-h"]);
    const r = await resolveIdentities(
      host({
        identityFiles: [d.priv, a.priv],
        certificateFiles: [`${hostCert.priv}-cert.pub`, `${b.priv}-cert.pub`],
      }),
      { agentSocket: undefined },
    );
    expect(shape(r.methods)).toEqual(["d", "a"]);
    expect(r.problems.join("\n")).toMatch(/d-cert\.pub \(key id "test-id"\) is not valid now/);
    expect(r.problems.join("\n")).toMatch(/hostkey-cert\.pub is a host certificate/);
    expect(r.problems.join("\n")).toMatch(/b-cert\.pub: no usable IdentityFile holds the private key/);
  });
});
