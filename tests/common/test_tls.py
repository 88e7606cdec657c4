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


async def test_the_checker_goes_on_over_wss_past_a_certificate_it_cannot_verify(tls_server):
    """Caddy's internal CA checked without --ca: the certificate is reported, and the
    STT rules still run over wss (websockets refused ssl=False, so none ran)."""
    from rymi_endpoints.check.client import Target, check_tls
    from rymi_endpoints.check.report import Report
    from rymi_endpoints.check.stt_session import open_socket

    report = Report()
    target = Target(f"{tls_server.ws_url}/ws", "tls-token-1", None)
    check_tls(report, "stt", target)
    assert [(r.rule, r.outcome) for r in report.results] == [("tls.certificate", "fail")]
    assert "TLS verification failed" in report.results[0].evidence
    ws = await open_socket(target)
    await ws.send("close")
    assert await ws.recv() == "close"
    await ws.close()


def test_the_checker_says_unreachable_not_tls_for_a_closed_port():
    from rymi_endpoints.check.client import Target, check_tls
    from rymi_endpoints.check.report import Report
    from tests.support.servers import refused_port

    report = Report()
    with refused_port() as port:
        check_tls(report, "stt", Target(f"wss://127.0.0.1:{port}/stt", None, None))
    assert report.results[0].outcome == "fail"
    assert report.results[0].evidence.startswith("cannot connect")


def test_dev_certs_are_made_again_for_a_new_name_or_near_expiry(tmp_path) -> None:
    """``make cert`` kept a certificate that lacked a name asked for later (the LAN
    address a phone dials) or expired within the day; the key is the user's alone."""
    import stat

    from cryptography import x509

    from rymi_endpoints.certs import make_dev_certs

    def names(path) -> set[str]:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return {str(n) for n in san.get_values_for_type(x509.DNSName)}

    paths = make_dev_certs(tmp_path, ("localhost",))
    assert stat.S_IMODE(paths["key"].stat().st_mode) == 0o600
    first = paths["cert"].read_bytes()
    assert make_dev_certs(tmp_path, ("localhost",))["cert"].read_bytes() == first  # kept
    make_dev_certs(tmp_path, ("localhost", "voice.lan"))
    assert names(paths["cert"]) == {"localhost", "voice.lan"}
    make_dev_certs(tmp_path, ("localhost", "new.lan"), days=0.5)  # type: ignore[arg-type]
    short = paths["cert"].read_bytes()
    assert names(paths["cert"]) == {"localhost", "new.lan"}
    assert make_dev_certs(tmp_path, ("localhost",))["cert"].read_bytes() != short
