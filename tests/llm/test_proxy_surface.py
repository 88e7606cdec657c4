"""The LLM server's surface beside the chat stream itself, on the proxy to the fault
double (no engine to start): the other URLs Rymi's customers save, what GET on a chat
path answers, the OpenAPI limits, and the usage record of a request that never got an
answer from the upstream."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from servers.llm.config import LlmSettings
from tests.llm.fault_upstream import MODEL
from tests.support.servers import RunningServer, metric

OK = {"model": "m", "messages": [{"role": "user", "content": "fault:ok"}]}


@pytest.fixture(autouse=True)
def _idle(fault_proxy: RunningServer) -> None:
    """The proxy takes two requests at a time: streams held by the tests before (in
    test_proxy.py, same server) must be counted out first, or these get a 503."""
    deadline = time.monotonic() + 20
    while metric(fault_proxy, "rymi_inflight", channel="custom-llm") != 0.0:
        assert time.monotonic() < deadline, "streams before were never counted out"
        time.sleep(0.05)


@pytest.mark.parametrize("path", ["/", "/chat/completions", "/v1/chat/completions"])
def test_every_chat_path_answers_a_post(fault_proxy: RunningServer, path: str) -> None:
    """A base URL saved without /v1 (or the whole endpoint as the base) still reaches the
    chat completions: Rymi's form takes whatever URL the customer pastes."""
    r = httpx.post(f"{fault_proxy.url}{path}", json=OK, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "chat.completion"


@pytest.mark.parametrize("path", ["/", "/v1/chat/completions"])
def test_get_on_a_chat_path_is_405_not_a_chat(fault_proxy: RunningServer, path: str) -> None:
    """Only POSTs take the direct chain: a GET (a browser, a probe) is the router's 405,
    not a request parsed as a chat with an empty body."""
    r = httpx.get(f"{fault_proxy.url}{path}", timeout=30)
    assert r.status_code == 405, r.text


def test_models_is_served_without_v1_too(fault_proxy: RunningServer) -> None:
    """A client given a base URL without /v1 lists the models at /models."""
    r = httpx.get(f"{fault_proxy.url}/models", timeout=30)
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["data"]] == [MODEL]


def test_openapi_states_this_servers_message_limits(fault_proxy: RunningServer) -> None:
    """A schema-valid request is refused only for its total size: the message count and
    length limits are in the schema a fuzzer or client reads."""
    spec = httpx.get(f"{fault_proxy.url}/openapi.json", timeout=30).json()
    schemas = spec["components"]["schemas"]
    defaults = LlmSettings.model_fields
    assert schemas["ChatRequest"]["properties"]["messages"]["maxItems"] == \
        defaults["max_messages"].default
    assert schemas["TextPart"]["properties"]["text"]["maxLength"] == \
        defaults["max_message_chars"].default


def test_a_malformed_body_records_its_error_code(fault_proxy: RunningServer) -> None:
    """A 400 answered on the direct chain says why in its usage record, as on any route."""
    rid = "surface-bad-json"
    r = httpx.post(f"{fault_proxy.url}/v1/chat/completions", content=b"{not json",
                   headers={"Content-Type": "application/json", "X-Request-ID": rid},
                   timeout=30)
    assert r.status_code == 400
    record = fault_proxy.wait_usage(rid)
    assert record["error"] == r.json()["error"]["code"], record


def test_a_stream_the_upstream_refused_records_the_model(fault_proxy: RunningServer) -> None:
    """A refused stream never reaches the stream's own accounting: its record still
    names the model (billing and dashboards group by it) and the error."""
    rid = "surface-refused-stream"
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "fault:400"}]}
    r = httpx.post(f"{fault_proxy.url}/v1/chat/completions", json=body,
                   headers={"X-Request-ID": rid}, timeout=30)
    assert r.status_code == 400
    record = fault_proxy.wait_usage(rid)
    assert record["model"] == MODEL and record["error"] == r.json()["error"]["code"], record


def test_a_client_gone_while_the_upstream_is_silent_is_499(fault_proxy: RunningServer) -> None:
    """A caller that hangs up while the upstream has not answered yet (a queue upstream)
    got nothing: its record is 499, as nginx logs it, never a 200 that was not sent."""
    rid = "surface-gone-waiting"
    body = b'{"model":"m","messages":[{"role":"user","content":"fault:stall-headers"}]}'
    with socket.create_connection(("127.0.0.1", fault_proxy.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\n"
                     b"X-Request-ID: " + rid.encode() + b"\r\nContent-Type: application/json"
                     b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.4)  # in the upstream's wait (its timeout here is 1.5 s)
    record = fault_proxy.wait_usage(rid)
    assert record["status"] == 499 and record["client_disconnected"] is True, record
