/** Unit test of pure socket plumbing: writes made in one tick leave in one writev. */
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { coalesceWrites } from "../../src/ssh/coalesce.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function connectedPair(): Promise<{ client: net.Socket; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  const server = net.createServer((s) => s.on("data", (d: Buffer) => chunks.push(d)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((r) => client.once("connect", r));
  cleanups.push(() => {
    client.destroy();
    server.close();
  });
  return { client, received: () => Buffer.concat(chunks) };
}

/** Counts how the socket hands data to the kernel: one _write per chunk, or one _writev per batch. */
function spyOnWrites(socket: net.Socket): { writes: number; writevs: number[] } {
  const seen = { writes: 0, writevs: [] as number[] };
  const s = socket as net.Socket & {
    _write: (...a: unknown[]) => void;
    _writev: (chunks: unknown[], ...a: unknown[]) => void;
  };
  const write = s._write.bind(s);
  const writev = s._writev.bind(s);
  s._write = (...a) => {
    seen.writes++;
    write(...a);
  };
  s._writev = (chunks, ...a) => {
    seen.writevs.push(chunks.length);
    writev(chunks, ...a);
  };
  return seen;
}

describe("coalesceWrites", () => {
  it("sends the packets written in one tick as one writev, in order, and later ticks separately", async () => {
    const { client, received } = await connectedPair();
    coalesceWrites(client);
    const seen = spyOnWrites(client);
    client.write("stat;");
    client.write("open;");
    await Promise.resolve(); // a promise reaction in the same tick still joins the batch
    client.write("read;");
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual({ writes: 0, writevs: [3] });
    client.write("close;");
    await new Promise((r) => setImmediate(r));
    expect(seen.writes + seen.writevs.length).toBe(2);
    for (let i = 0; i < 50 && received().length < 21; i++) await new Promise((r) => setTimeout(r, 10));
    expect(received().toString()).toBe("stat;open;read;close;");
  });

  it("without it, each write is its own syscall (what the wrapper saves)", async () => {
    const { client } = await connectedPair();
    const seen = spyOnWrites(client);
    client.write("a");
    client.write("b");
    client.write("c");
    await new Promise((r) => setImmediate(r));
    expect(seen.writes).toBeGreaterThanOrEqual(1);
    expect(seen.writes + seen.writevs.length).toBeGreaterThan(1);
  });
});
