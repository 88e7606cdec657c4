"""An STT server with a common mistake, for the checker to catch: our real server's
session, relayed with its events altered the way a custom endpoint gets them wrong.

``ws://.../<mistake>/stt?...`` opens a session on the real server (``upstream``, the
query passed on) and relays both ways, except:
- ``late-interim``: an interim after each final (a stale hypothesis arriving late);
- ``stray-start``: a speech_started after each utterance_end, never closed;
- ``slow-finalize``: each finalize held 8 s before it is passed on;
- ``lang-fr``: every final says ``language_code: fr-FR`` on English speech;
- ``lax-options``: unknown URL options dropped instead of refused;
- ``no-endpointing``: ``endpointing_ms`` dropped (the server's own default used);
- ``hang-up``: the session closed (1000) after its first utterance_end, as a server that
  takes one utterance for the whole call.

Otherwise a relay says what the real server said: its close code and reason reach the
client (a session the relay lost is closed 1011, and logged), so a test failing here
shows the real cause. The relay sends no keepalive pings of its own: under load an
unanswered one ended a session, and the check read that as the server's doing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from urllib.parse import parse_qsl, urlencode

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

MISTAKES = ("late-interim", "stray-start", "slow-finalize", "lang-fr", "lax-options",
            "no-endpointing", "hang-up")
KNOWN = {"language", "model", "endpointing_ms", "vad_threshold", "interim", "keyterms"}


class BrokenStt:
    def __init__(self, upstream_ws: str, token: str) -> None:
        self.upstream, self.token = upstream_ws.rstrip("/"), token
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.url = ""

    async def _session(self, client: ServerConnection) -> None:
        path, _, query = client.request.path.partition("?")  # type: ignore[union-attr]
        mistake, _, rest = path.lstrip("/").partition("/")
        if mistake in ("lax-options", "no-endpointing"):
            kept = KNOWN if mistake == "lax-options" else KNOWN - {"endpointing_ms"}
            query = urlencode([(k, v) for k, v in parse_qsl(query) if k in kept])
        url = f"{self.upstream}/{rest}" + (f"?{query}" if query else "")
        auth = {"Authorization": f"Bearer {self.token}"}
        async with connect(url, additional_headers=auth, ping_interval=None) as real:
            async def up() -> None:
                async for msg in client:
                    if mistake == "slow-finalize" and isinstance(msg, str) and "finalize" in msg:
                        await asyncio.sleep(8)
                    await real.send(msg)
                await real.close()

            async def down() -> None:
                try:
                    async for msg in real:
                        event = json.loads(msg)
                        if mistake == "lang-fr" and event["type"] == "final":
                            event["language_code"] = "fr-FR"
                        await client.send(json.dumps(event))
                        if mistake == "late-interim" and event["type"] == "final":
                            await client.send(json.dumps({"type": "interim",
                                                          "text": event["text"]}))
                        if mistake == "stray-start" and event["type"] == "utterance_end":
                            await client.send(json.dumps({"type": "speech_started"}))
                        if mistake == "hang-up" and event["type"] == "utterance_end":
                            await client.close(1000)
                            return
                except ConnectionClosed as exc:  # either side: the test's log says which
                    log.warning("broken_stt: relay ended by %s", exc)
                rcvd = real.protocol.close_rcvd
                code = rcvd.code if rcvd and rcvd.code not in (1005, 1006) else 1011
                await client.close(code, rcvd.reason if rcvd else "the real session was lost")

            await asyncio.gather(up(), down(), return_exceptions=True)

    async def _main(self) -> None:
        async with serve(self._session, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}"
            self.stop = asyncio.Event()
            self.ready.set()
            await self.stop.wait()

    def __enter__(self) -> BrokenStt:
        threading.Thread(target=self.loop.run_until_complete, args=(self._main(),),
                         daemon=True).start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
