/** Task ids (pure): what each kind names, what is refused, and the broadcast id's length bound. */
import { describe, expect, it } from "vitest";
import { declaresTasks, fleetTaskId, parseTaskId, TASKS_EXTENSION } from "../../src/mcp/tasks.js";

describe("task ids", () => {
  it("a command's task id is its job handle; a broadcast's lists its jobs and the hosts not started", () => {
    expect(parseTaskId("job:web1/20261203-171502-a3f9c0")).toEqual({
      kind: "job",
      host: "web1",
      id: "20261203-171502-a3f9c0",
      handle: "web1/20261203-171502-a3f9c0",
    });
    const id = fleetTaskId(["web1/20261203-171502-a3f9c0", "web2/20261203-171502-0b1c2d"], ["web3"]);
    expect(id).toBe("fleet:web1/20261203-171502-a3f9c0,web2/20261203-171502-0b1c2d;!web3");
    expect(parseTaskId(id!)).toMatchObject({
      kind: "fleet",
      started: [
        { host: "web1", id: "20261203-171502-a3f9c0" },
        { host: "web2", id: "20261203-171502-0b1c2d" },
      ],
      failed: ["web3"],
    });
  });

  it("refuses what Scout did not issue: bad job ids (they become remote paths), other kinds", () => {
    for (const bad of [
      "job:web1/../../etc",
      "job:web1/20261203-171502-a3f9c0; rm -rf ~",
      "job:/20261203-171502-a3f9c0",
      "fleet:web1/nope",
      "local:abc",
      "786512e2-9e0d-44bd-8f29-789f320fe840",
      "",
    ]) {
      expect(parseTaskId(bad), bad).toBeUndefined();
    }
  });

  it("a broadcast id that would not fit an HTTP header is not made", () => {
    const many = Array.from(
      { length: 400 },
      (_, i) => `web-${String(i).padStart(4, "0")}/20261203-171502-a3f9c0`,
    );
    expect(fleetTaskId(many.slice(0, 100), [])).toBeDefined();
    expect(fleetTaskId(many, [])).toBeUndefined();
  });

  it("the 2026-07-28 extension is declared under extensions in the request's capabilities", () => {
    expect(declaresTasks({ extensions: { [TASKS_EXTENSION]: {} } })).toBe(true);
    expect(declaresTasks({ tasks: {} })).toBe(false);
    expect(declaresTasks(undefined)).toBe(false);
  });
});
