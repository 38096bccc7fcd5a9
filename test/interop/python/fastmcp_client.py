"""Scout through fastmcp's Client (`pip install fastmcp`, 4.x): a second client that is not the TypeScript SDK.

Driven by test/interop/fastmcp.test.ts: reads one JSON config from argv[1], connects over Streamable
HTTP in the mode asked for ("legacy": the initialize handshake; "auto": server/discover first, which
Scout answers, so the 2026-07-28 era), runs the checks and prints one JSON report on stdout. Every
check records what it saw; a failure is reported, not raised, so one broken check hides no other.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any

import anyio
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"checks": {}, "asked": []}
    host, root = cfg["host"], cfg["root"]

    async def on_elicit(message: str, response_type: Any, params: Any, context: Any) -> Any:
        report["asked"].append(message[:200])
        return ElicitResult(action="accept")

    async def check(name: str, fn: Any) -> None:
        started = time.monotonic()
        try:
            report["checks"][name] = {"ok": True, **(await fn())}
        except BaseException as e:  # noqa: BLE001 - the report says what failed
            report["checks"][name] = {"ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}
        report["checks"][name]["seconds"] = round(time.monotonic() - started, 3)

    client = Client(cfg["url"], mode=cfg["mode"], elicitation_handler=on_elicit, timeout=120)
    async with client:
        report["protocolVersion"] = str(getattr(client, "protocol_version", None) or "")

        async def tools() -> dict[str, Any]:
            listed = await client.list_tools()
            return {"tools": [t.name for t in listed]}

        async def read_small() -> dict[str, Any]:
            r = await client.call_tool("scout", {"target": f"{host}:{root}/hello.txt"}, raise_on_error=False)
            return {"text": text_of(r), "isError": bool(r.is_error), "structured": r.structured_content}

        async def listing() -> dict[str, Any]:
            r = await client.call_tool("scout", {"target": f"{host}:{root}"}, raise_on_error=False)
            links = [str(c.uri) for c in r.content if getattr(c, "type", "") == "resource_link"]
            first = await client.read_resource(links[0]) if links else []
            return {"links": links, "firstLink": "".join(getattr(c, "text", "") for c in first)}

        async def read_big() -> dict[str, Any]:
            r = await client.call_tool("scout", {"target": f"{host}:{root}/big.log"}, raise_on_error=False)
            t = text_of(r)
            return {"length": len(t), "tail": t[-300:], "isError": bool(r.is_error)}

        async def command_big() -> dict[str, Any]:
            # Confirmed first (SCOUT_CONFIRM_COMMANDS): elicitation in the 2025 era, MRTR in 2026-07-28.
            r = await client.call_tool(
                "scout", {"target": f"{host}:/", "query": "head -c 1500000 /dev/zero | tr '\\0' a"}, raise_on_error=False
            )
            t = text_of(r)
            return {"length": len(t), "tail": t[-300:], "isError": bool(r.is_error)}

        async def resource_big() -> dict[str, Any]:
            contents = await client.read_resource(f"scout://{host}{root}/big.log")
            t = "".join(getattr(c, "text", "") for c in contents)
            return {"length": len(t), "tail": t[-300:]}

        async def missing() -> dict[str, Any]:
            try:
                await client.read_resource(f"scout://{host}{root}/missing.txt")
            except Exception as e:  # noqa: BLE001 - the error is what is checked
                return {"error": f"{type(e).__name__}: {e}"}
            return {"error": None}

        await check("tools", tools)
        await check("readSmall", read_small)
        await check("listing", listing)
        await check("read50MB", read_big)
        await check("command1500KB", command_big)
        await check("resource50MB", resource_big)
        await check("missing", missing)
    return report


def main() -> None:
    cfg = json.loads(sys.argv[1])
    report = anyio.run(run, cfg)
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
