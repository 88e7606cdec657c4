"""Container health check: exit 0 when the server this container runs answers.

One server per container, whichever the command started: RYMI_PROBE_PORT names its
port; without it each server's port (RYMI_STT_PORT, RYMI_TTS_PORT, RYMI_LLM_PORT, else
8001, 8002, 8003) is tried and the one that answers is the one running, on 127.0.0.1
(or on ::1, where nothing listens on 127.0.0.1). A server that serves TLS itself is
probed over https (a local probe: the certificate is not checked).

    python healthcheck.py [/healthz | /readyz]
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request

DEFAULT_PORTS = {"STT": "8001", "TTS": "8002", "LLM": "8003"}


def ports() -> list[str]:
    probe = os.environ.get("RYMI_PROBE_PORT", "").split()
    return probe or [os.environ.get(f"RYMI_{name}_PORT") or port
                     for name, port in DEFAULT_PORTS.items()]


def answers(url: str) -> bool | None:
    """True: 200; False: another answer, or none in time; None: nothing listens there."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
            return r.status == 200
    except urllib.error.URLError as exc:
        return None if isinstance(exc.reason, ConnectionRefusedError) else False
    except Exception:  # 503 (HTTPError), timeout, a TLS mismatch: not this one
        return False


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/healthz"
    for port in ports():
        for scheme in ("http", "https"):
            said = answers(f"{scheme}://127.0.0.1:{port}{path}")
            if said is None:  # a server bound to an IPv6 address alone (::1)
                said = answers(f"{scheme}://[::1]:{port}{path}")
            if said:
                return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
