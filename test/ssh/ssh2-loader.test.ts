/**
 * src/ssh2.ts: ssh2 loads with a pooled randomFillSync for its packet padding; everyone else keeps
 * the real one.
 */
import crypto from "node:crypto";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import ssh2, { pooledRandomFillSync } from "../../src/ssh2.js";

describe("the ssh2 loader", () => {
  it("gives back the real randomFillSync once ssh2 is loaded", () => {
    const cjsCrypto = createRequire(import.meta.url)("node:crypto") as typeof crypto;
    expect(cjsCrypto.randomFillSync.name).toBe("randomFillSync");
    expect(cjsCrypto.randomFillSync).not.toBe(pooledRandomFillSync);
    expect(typeof ssh2.Client).toBe("function");
  });

  it("fills exactly the asked range, never with the same bytes twice", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      // Padding-sized requests, enough of them to refill the 4 KiB pool several times.
      const buf = Buffer.alloc(40, 0xaa);
      pooledRandomFillSync(buf, 10, 16);
      expect(buf.subarray(0, 10).every((b) => b === 0xaa)).toBe(true);
      expect(buf.subarray(26).every((b) => b === 0xaa)).toBe(true);
      const pad = buf.subarray(10, 26).toString("hex");
      expect(seen.has(pad)).toBe(false);
      seen.add(pad);
    }
  });

  it("sends large requests and non-Buffers to the CSPRNG directly", () => {
    const big = Buffer.alloc(1024);
    pooledRandomFillSync(big);
    expect(big.some((b) => b !== 0)).toBe(true);
    const view = new Uint8Array(32);
    pooledRandomFillSync(view);
    expect(view.some((b) => b !== 0)).toBe(true);
  });
});
