"""`subscriptions/listen` (2026-07-28) through the Python MCP SDK (`mcp` 2.3), not the TypeScript SDK.

Driven by test/interop/python-listen.test.ts: reads one JSON config from argv[1], connects over stdio
or Streamable HTTP pinned to 2026-07-28, opens a listen stream on a log file, appends to it (a shell
command given in the config, so the host side stays in the test), waits for the update event, then
checks that a URI Scout cannot watch is refused. Prints one JSON report on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import traceback
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    if cfg["transport"] == "stdio":
        server: Any = StdioServerParameters(command=cfg["command"], args=cfg["args"], env=cfg["env"])
    else:
        server = cfg["url"]
    uri = cfg["uri"]
    async with Client(server, mode="2026-07-28", read_timeout_seconds=60) as client:
        report["protocolVersion"] = client.protocol_version
        try:
            async with client.listen(resource_subscriptions=[uri], resources_list_changed=True,
                                     tools_list_changed=True) as sub:
                honored = sub.honored.model_dump(by_alias=True, exclude_none=True)
                report["honored"] = honored
                subprocess.run(cfg["append"], shell=True, check=True)
                with anyio.fail_after(20):
                    async for event in sub:
                        if isinstance(event, ResourceUpdated):
                            report["updated"] = event.uri
                            break
        except BaseException as e:  # noqa: BLE001 - the report says what failed
            report["listenError"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"
        try:
            async with client.listen(resource_subscriptions=[cfg["badUri"]]):
                report["refused"] = None
        except MCPError as e:
            report["refused"] = {"code": e.error.code, "message": e.error.message}
    return report


def main() -> None:
    cfg = json.loads(sys.argv[1])
    sys.stdout.write(json.dumps(anyio.run(run, cfg)) + "\n")


if __name__ == "__main__":
    main()
