"""The floor under any proxy's overhead: a TCP relay that forwards bytes and parses nothing.

One upstream connection per client connection, bytes copied both ways as they arrive.
No HTTP proxy can add less than this on the same machine, so ``bench.llm`` measures it
beside ours: what ours adds above it is the HTTP work (parsing, validation, framing).

    python -m bench.llm_floor --port 9102 --upstream 127.0.0.1:9100
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
    finally:
        writer.close()


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench.llm_floor", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="host:port")
    a = ap.parse_args()
    host, _, port = a.upstream.rpartition(":")

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(host, int(port))
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w),
                             return_exceptions=True)

    async def serve() -> None:
        server = await asyncio.start_server(relay, "127.0.0.1", a.port)
        await server.serve_forever()

    uvloop.run(serve())


if __name__ == "__main__":
    main()
