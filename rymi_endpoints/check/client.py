"""How the simulated gateway connects: TLS verification, tokens, URL surgery."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .report import Report


@dataclass
class Target:
    url: str
    token: str | None
    ca: str | None  # extra trust root (a private CA); None: the system store
    verify: ssl.SSLContext | bool = True

    def headers(self, token: str | None = "__default__") -> dict[str, str]:
        tok = self.token if token == "__default__" else token
        return {"Authorization": f"Bearer {tok}"} if tok else {}

    @property
    def secure(self) -> bool:
        return urlsplit(self.url).scheme in ("https", "wss")

    def with_unknown_option(self) -> str:
        """This URL with an option no server knows: a typo in a saved URL must be a 400."""
        return self.url + ("&" if "?" in self.url else "?") + "rymi_check_no_such_option=1"

    def sibling(self, path: str, scheme: str | None = None) -> str:
        """The same origin with another path (e.g. /v1/models beside the chat URL)."""
        parts = urlsplit(self.url)
        return urlunsplit((scheme or parts.scheme, parts.netloc, path, "", ""))


def ssl_context(ca: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca:
        ctx.load_verify_locations(ca)
    return ctx


def unverified_context() -> ssl.SSLContext:
    """For going on once a certificate failed (and was reported): the rest of the
    contract is still worth checking over the same TLS."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check_tls(report: Report, channel: str, target: Target) -> None:
    """Rymi only saves https/wss URLs and verifies certificates: so do we."""
    if not target.secure:
        report.add(channel, "tls.scheme", False,
                   f"{target.url} is not https/wss: Rymi refuses plain URLs at save time "
                   f"(fine behind a TLS proxy; check the proxy's URL)", "common", warn_only=True)
        return
    ctx = ssl_context(target.ca)
    probe = target.sibling("/healthz", "https")
    try:
        httpx.get(probe, verify=ctx, timeout=10)
        report.add(channel, "tls.certificate", True, "certificate chain and name verified")
        target.verify = ctx
    except httpx.ConnectError as exc:
        if not isinstance(exc.__context__, ssl.SSLError) and "SSL" not in str(exc):
            report.add(channel, "tls.certificate", False, f"cannot connect: {exc}", "common")
            return  # not a certificate problem: the checks that follow say unreachable
        report.add(channel, "tls.certificate", False, f"TLS verification failed: {exc}",
                   "common")
        target.verify = False  # go on checking the rest of the contract


def is_error_body(resp: httpx.Response) -> tuple[bool, str]:
    try:
        body = resp.json()
    except ValueError:
        return False, f"not JSON: {resp.text[:120]!r}"
    err = body.get("error") if isinstance(body, dict) else None
    ok = isinstance(err, dict) and isinstance(err.get("message"), str) and "type" in err \
        and "code" in err
    return ok, str(body)[:200]


# A refusal comes before any work, so it comes at once. A server still busy after this
# long is doing the work it should have refused (synthesising 2000 words, say): that is
# the failure, reported as such rather than waited out.
ERROR_ANSWER_S = 15.0
ERROR_BODY_BYTES = 64 * 1024  # a shaped error is a few hundred bytes


def check_error(report: Report, channel: str, rule: str, client: httpx.Client, url: str,
                want: int, **request: Any) -> None:
    """POST what the contract refuses: the answer must be ``want`` with a shaped body.

    Only the head and a refusal's small body are read, within ``ERROR_ANSWER_S`` in all:
    a server that does the work instead (a 200 and minutes of audio) is not waited out."""
    try:
        r = _refusal(client, url, **request)
    except httpx.TimeoutException:
        report.add(channel, rule, False, f"no answer within {ERROR_ANSWER_S:g} s (a refusal "
                   "must come before any work)", "common")
        return
    if r.is_success:
        report.add(channel, rule, False, f"HTTP {r.status_code}: the server did the work "
                   f"instead of refusing it (its answer was not read)", "common")
        return
    shaped, ev = is_error_body(r)
    report.add(channel, rule, r.status_code == want and shaped, f"HTTP {r.status_code} {ev}",
               "common")


def _refusal(client: httpx.Client, url: str, **request: Any) -> httpx.Response:
    """The answer's head, with its body only if it is no success and fits in
    ``ERROR_BODY_BYTES`` (more is cut there); TimeoutException past ``ERROR_ANSWER_S``."""
    deadline = time.monotonic() + ERROR_ANSWER_S
    with client.stream("POST", url, timeout=ERROR_ANSWER_S, **request) as r:
        body = b""
        if not r.is_success:
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) >= ERROR_BODY_BYTES:
                    break
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("refusal body still coming")
        headers = [(k, v) for k, v in r.headers.multi_items()
                   if k not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(r.status_code, headers=headers, content=body[:ERROR_BODY_BYTES])


def check_http_auth(report: Report, channel: str, client: httpx.Client, target: Target,
                    body: dict) -> bool:
    """No token, a wrong one and the right one, as Rymi's gateway may send them."""
    if not target.token:
        r = client.post(target.url, json=body)
        if r.status_code == 401:
            return report.add(channel, "auth.required", False,
                              "server answered 401 without a token: pass --token", "common")
        return report.add(channel, "auth.open", True, "no token configured; server is open",
                          "common")
    for name, headers in (("missing", {}), ("wrong", target.headers("rymi-check-wrong"))):
        r = client.post(target.url, json=body, headers=headers)
        shaped, ev = is_error_body(r)
        report.add(channel, f"auth.{name}_token_401", r.status_code == 401 and shaped,
                   f"HTTP {r.status_code} {ev}", "common")
    r = client.post(target.url, json=body, headers=target.headers())
    return report.add(channel, "auth.right_token", r.status_code == 200,
                      f"HTTP {r.status_code}", "common")
