"""The LLM endpoint takes no URL options: a typo in Rymi's saved URL is a loud 400."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("query", ["?temperature=0.2", "?model=x", "?api-version=2024-01-01"])
def test_unknown_url_option_is_400_naming_it(llm_server, query):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    r = httpx.post(f"{llm_server.url}/v1/chat/completions{query}", json=body,
                   headers=llm_server.auth_headers, timeout=60)
    assert r.status_code == 400
    err = r.json()["error"]
    name = query[1:].split("=")[0]
    assert err["code"] == "unknown_parameter" and err["param"] == name
    assert name in err["message"]


def test_openapi_describes_the_validated_request(llm_server):
    r = httpx.get(f"{llm_server.url}/openapi.json", headers=llm_server.auth_headers)
    assert r.status_code == 200
    spec = r.json()
    req = spec["components"]["schemas"]["ChatRequest"]
    assert "messages" in req["required"]
    assert {"temperature", "max_tokens", "stream_options"} <= req["properties"].keys()
    assert "post" in spec["paths"]["/v1/chat/completions"]
