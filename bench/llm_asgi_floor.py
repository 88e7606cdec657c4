"""The floor under a Python proxy: uvicorn and our upstream client, and nothing else.

A bare ASGI app that forwards the request body as it came and relays the upstream's
body chunks as they arrive: no validation, auth, admission, usage record, metrics,
hang-up listener or SSE framing. What our proxy adds above this is what those cost;
what this adds above the TCP relay (``bench.llm_floor``) is HTTP in Python.

    python -m bench.llm_asgi_floor --port 9103 --upstream http://127.0.0.1:9100/v1
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from servers.llm.backends.http_client import UpstreamClient

SSE = [(b"content-type", b"text/event-stream")]


def make_app(upstream: str) -> Any:
    client = UpstreamClient(upstream, {}, connect_timeout_s=5, read_timeout_s=60)

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":  # /v1/models, the readiness probe
            resp = await client.request("GET", "/models")
        else:
            resp = await client.request("POST", "/chat/completions", body)
        await send({"type": "http.response.start", "status": resp.status, "headers": SSE})
        while (chunk := await resp.next()) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        resp.close()
        await send({"type": "http.response.body", "body": b""})

    return app


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench.llm_asgi_floor", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="base URL up to /v1")
    a = ap.parse_args()
    uvicorn.run(make_app(a.upstream), host="127.0.0.1", port=a.port, log_level="warning",
                access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
