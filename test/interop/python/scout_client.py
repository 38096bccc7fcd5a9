"""Scout through the Python MCP SDK (`pip install mcp`, 2.3): a client that is not the TypeScript SDK.

Driven by test/interop/python-sdk.test.ts: reads one JSON config from argv[1], connects over stdio
or Streamable HTTP in the era asked for, runs the checks, and prints one JSON report on stdout
(the vitest side asserts it). Every check records what it saw; a failure is reported, not raised,
so that one broken check does not hide the others.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import ResourceTemplateReference


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"checks": {}}
    if cfg["transport"] == "stdio":
        server: Any = StdioServerParameters(command=cfg["command"], args=cfg["args"], env=cfg["env"])
    else:
        server = cfg["url"]
    host, root, big = cfg["host"], cfg["root"], cfg.get("bigHost")

    async def check(name: str, fn: Any) -> None:
        started = time.monotonic()
        try:
            report["checks"][name] = {"ok": True, **(await fn())}
        except BaseException as e:  # noqa: BLE001 - the report says what failed
            report["checks"][name] = {"ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}
        report["checks"][name]["seconds"] = round(time.monotonic() - started, 3)

    async with Client(server, mode=cfg.get("mode", "legacy"), read_timeout_seconds=60) as client:
        report["protocolVersion"] = client.protocol_version

        async def tools() -> dict[str, Any]:
            listed = await client.list_tools()
            return {"tools": [t.name for t in listed.tools]}

        async def read_small() -> dict[str, Any]:
            r = await client.call_tool("scout", {"target": f"{host}:{root}/hello.txt"})
            return {"text": text_of(r), "isError": bool(r.is_error), "structured": r.structured_content}

        async def read_big(target: str) -> dict[str, Any]:
            r = await client.call_tool("scout", {"target": target})
            t = text_of(r)
            return {"length": len(t), "tail": t[-300:], "isError": bool(r.is_error)}

        async def command(query: str) -> dict[str, Any]:
            r = await client.call_tool("scout", {"target": f"{host}:/", "query": query})
            t = text_of(r)
            return {"length": len(t), "tail": t[-300:], "isError": bool(r.is_error)}

        async def resource_big() -> dict[str, Any]:
            r = await client.read_resource(f"scout://{host}{root}/big.log")
            t = "".join(getattr(c, "text", "") for c in r.contents)
            return {"length": len(t), "tail": t[-300:]}

        async def capital() -> dict[str, Any]:
            # Pydantic's URL type lowercases the scheme on the way: Web1:// leaves as web1://.
            r = await client.read_resource(f"{cfg['capitalHost']}://{root[1:]}/hello.txt")
            return {"text": "".join(getattr(c, "text", "") for c in r.contents), "uri": str(r.contents[0].uri)}

        async def complete() -> dict[str, Any]:
            hosts = await client.complete(
                ResourceTemplateReference(type="ref/resource", uri="{host}://{+path}"),
                {"name": "host", "value": cfg["capitalHost"][:2].lower()},
            )
            paths = await client.complete(
                ResourceTemplateReference(type="ref/resource", uri="scout://{host}/{+path}"),
                {"name": "path", "value": f"{root[1:]}/he"},
                {"host": host},
            )
            return {"hosts": hosts.completion.values, "paths": paths.completion.values}

        async def pages() -> dict[str, Any]:
            uris: list[str] = []
            cursor = None
            count = 0
            while True:
                page = await client.list_resources(cursor=cursor) if cursor else await client.list_resources()
                uris += [str(r.uri) for r in page.resources]
                count += 1
                cursor = page.next_cursor
                if not cursor:
                    break
            templates = await client.list_resource_templates()
            return {"resources": len(uris), "pages": count, "templates": len(templates.resource_templates)}

        async def cancels() -> dict[str, Any]:
            n = cfg.get("cancels", 100)
            for _ in range(n):
                with anyio.move_on_after(0.05):
                    await client.call_tool("scout", {"target": f"{host}:/", "query": "sleep 30"})
            # Still answering: the cancelled calls' streams did not pin the connection pool.
            with anyio.fail_after(20):
                r = await client.call_tool("scout", {"target": f"{host}:{root}/hello.txt"})
            return {"cancelled": n, "after": text_of(r)}

        await check("tools", tools)
        await check("readSmall", read_small)
        await check("readNewlines", lambda: read_big(f"{host}:{root}/newlines.txt"))
        await check("read50MB", lambda: read_big(f"{host}:{root}/big.log"))
        await check("command1500KB", lambda: command("head -c 1500000 /dev/zero | tr '\\0' a"))
        await check("commandNewlines", lambda: command("yes '' | head -c 1500000"))
        await check("resource50MB", resource_big)
        await check("capitalHost", capital)
        await check("complete", complete)
        if big:
            await check("pages", pages)
        await check("cancels", cancels)
    return report


def main() -> None:
    cfg = json.loads(sys.argv[1])
    report = anyio.run(run, cfg)
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
