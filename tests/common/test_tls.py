"""https and wss straight from the server, with the `make cert` CA as the only trust root."""

from __future__ import annotations

import ssl

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support.servers import start_server


@pytest.fixture(scope="module")
def tls_server(dev_certs):
    server = start_server("tests.common.echo_server", env={
        "RYMI_ECHO_SERVER_TLS_CERT": str(dev_certs["cert"]),
        "RYMI_ECHO_SERVER_TLS_KEY": str(dev_certs["key"]),
        "RYMI_ECHO_SERVER_TOKENS": "tls-token-1",
    }, ready_timeout=30, verify=str(dev_certs["ca"]))
    yield server
    server.stop()


def test_https_with_dev_ca(tls_server, dev_certs):
    assert tls_server.url.startswith("https://")
    ctx = ssl.create_default_context(cafile=str(dev_certs["ca"]))
    with httpx.Client(verify=ctx) as client:
        r = client.post(f"{tls_server.url}/stream", content=b"s",
                        headers={"Authorization": "Bearer tls-token-1"})
        assert r.status_code == 200 and r.content == b"s" * 10
        assert client.get(f"{tls_server.url}/readyz").status_code == 200


def test_https_rejected_without_the_ca(tls_server):
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tls_server.url}/healthz")  # system trust store only


def test_tls_below_1_2_refused(tls_server, dev_certs):
    ctx = ssl.create_default_context(cafile=str(dev_certs["ca"]))
    # Security level 0 lets this client really offer TLS 1.0/1.1 (OpenSSL 3 would not at
    # its default level), so the refusal is the server's; the same client on TLS 1.2 is in.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tls_server.url}/healthz", verify=ctx)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    assert httpx.get(f"{tls_server.url}/healthz", verify=ctx).status_code == 200


async def test_wss_with_dev_ca(tls_server, dev_certs):
    ctx = ssl.create_default_context(cafile=str(dev_certs["ca"]))
    async with connect(f"{tls_server.ws_url}/ws", ssl=ctx,
                       additional_headers={"Authorization": "Bearer tls-token-1"}) as ws:
        await ws.send("over tls")
        assert await ws.recv() == "over tls"
