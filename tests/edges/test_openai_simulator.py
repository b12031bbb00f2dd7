"""The simulator's OpenAI mode, and the OpenAI rows of error mapping run against it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from openai import OpenAI

from poe_mcp import errors as E
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator

from .conftest import run_cli

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


def openai_client(sim: Simulator, key: str = "sk-test-edges") -> AsyncPoeClient:
    return AsyncPoeClient(
        key, provider="openai", base_url=sim.base_url, store=False, max_retries=0, rpm=0
    )


def test_plain_model_list_with_chat_and_non_chat_models(openai_sim: Simulator) -> None:
    auth = {"Authorization": "Bearer sk-test-edges"}  # OpenAI's list is not public
    body = httpx2.get(f"{openai_sim.base_url}/models", headers=auth).json()
    assert body["object"] == "list"
    ids = {item["id"] for item in body["data"]}
    assert {"gpt-4o", "gpt-4o-2024-08-06", "o3-mini", "text-embedding-3-small"} <= ids
    assert {"gpt-3.5-turbo-instruct", "whisper-1", "tts-1", "dall-e-3"} <= ids
    for item in body["data"]:
        assert set(item) == {"id", "object", "created", "owned_by"}  # nothing else, as OpenAI
    one = httpx2.get(f"{openai_sim.base_url}/models/o3-mini", headers=auth).json()
    assert set(one) == {"id", "object", "created", "owned_by"}


def test_answers_carry_dated_ids_streamed_or_not(openai_sim: Simulator) -> None:
    sdk = OpenAI(api_key="sk-test-edges", base_url=openai_sim.base_url, max_retries=0)
    plain = sdk.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert plain.model == "gpt-4o-2024-08-06"
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert {c.model for c in chunks} == {"gpt-4o-mini-2024-07-18"}
    pinned = sdk.chat.completions.create(
        model="gpt-4o-2024-05-13", messages=[{"role": "user", "content": "hi"}]
    )
    assert pinned.model == "gpt-4o-2024-05-13"  # a snapshot asked for is answered as itself


@pytest.mark.parametrize(
    ("key", "model", "status", "code", "err_type"),
    [
        ("invalid-key", "gpt-4o", 401, "invalid_api_key", "invalid_request_error"),
        ("sk-ok", "gpt-9", 404, "model_not_found", "invalid_request_error"),
        ("sk-ok", "GPT-4o", 404, "model_not_found", "invalid_request_error"),  # case-sensitive
        ("sk-ok", "text-embedding-3-small", 404, None, "invalid_request_error"),
        ("broke-key", "gpt-4o", 429, "insufficient_quota", "insufficient_quota"),
    ],
)
def test_openai_error_bodies(
    openai_sim: Simulator, key: str, model: str, status: int, code: str | None, err_type: str
) -> None:
    response = httpx2.post(
        f"{openai_sim.base_url}/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["type"]) == (code, err_type)
    assert "poe" not in json.dumps(error).lower()
    assert "x-poe-feature-active" not in response.headers


def test_faults_speak_openai_codes(openai_sim: Simulator) -> None:
    openai_sim.add_fault(
        "status", status=400, error_type="billing_hard_limit_reached",
        message="Billing hard limit has been reached",
    )  # fmt: skip
    openai_sim.add_fault("status", status=429, retry_after=1)
    url = f"{openai_sim.base_url}/chat/completions"
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": "Bearer sk-ok"}
    billing = httpx2.post(url, json=body, headers=headers)
    limited = httpx2.post(url, json=body, headers=headers)
    assert billing.status_code == 400
    assert billing.json()["error"]["code"] == "billing_hard_limit_reached"
    assert limited.status_code == 429
    assert limited.json()["error"] == {
        "message": limited.json()["error"]["message"],
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert limited.headers["retry-after"] == "1"


async def test_library_maps_every_openai_error_to_its_kind(openai_sim: Simulator) -> None:
    async with openai_client(openai_sim, "invalid-key") as bad:
        with pytest.raises(E.AuthError) as auth:
            await bad.chat("gpt-4o", "hi")
    async with openai_client(openai_sim, "broke-key") as broke:
        with pytest.raises(E.QuotaError):
            await broke.chat("gpt-4o", "hi")
    async with openai_client(openai_sim) as ok:
        with pytest.raises(E.NotFoundError):
            await ok.chat("gpt-9", "hi")
        with pytest.raises(E.NotFoundError):
            await ok.chat("text-embedding-3-small", "hi")
        openai_sim.add_fault("status", status=400, error_type="billing_hard_limit_reached")
        with pytest.raises(E.QuotaError) as billing:
            await ok.chat("gpt-4o", "hi")
        openai_sim.add_fault("status", status=400, error_type="context_length_exceeded")
        with pytest.raises(E.TooLargeError):
            await ok.chat("gpt-4o", "hi")
        openai_sim.add_fault("status", status=429)
        with pytest.raises(E.RateLimitError):
            await ok.chat("gpt-4o", "hi")
        answered = await ok.chat("gpt-4o", "hi")
    # each provider's own pages, one hint, once; never Poe's for OpenAI
    assert "platform.openai.com/api-keys" in auth.value.message
    assert auth.value.message.count("platform.openai.com") == 1
    assert "poe.com" not in auth.value.message
    assert "platform.openai.com/settings/organization/billing" in billing.value.message
    assert "poe.com" not in billing.value.message
    assert answered.model == "gpt-4o-2024-08-06"
    assert answered.simulated is True


def test_cli_simulator_provider_openai(tmp_path: Path) -> None:
    help_text = run_cli("simulator", "--help").stdout
    assert "--provider [poe|openai]" in help_text
    proc = subprocess.Popen(
        [POE_MCP, "simulator", "--provider", "openai", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = ""
        deadline = time.monotonic() + 20
        while not url and time.monotonic() < deadline:
            line = proc.stdout.readline()
            match = re.search(r"listening on (\S+)", line)
            url = match.group(1) if match else ""
        assert url, "the simulator did not start"
        auth = {"Authorization": "Bearer sk-test-edges"}
        items = httpx2.get(f"{url}/v1/models", headers=auth).json()["data"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert {"gpt-4o", "text-embedding-3-small"} <= {i["id"] for i in items}
    assert all(set(i) == {"id", "object", "created", "owned_by"} for i in items)
