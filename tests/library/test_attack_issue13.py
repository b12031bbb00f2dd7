"""A newcomer's attack on the library that owns the conversation, provider and request loop
(issue 13): wrong types, conflicting options, bad clocks and stores, unusable keys. Each is
refused at once, clearly, with nothing sent to the model and nothing stored."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest

from poe_mcp import (
    Agent,
    AsyncPoeClient,
    ConfigError,
    Conversation,
    InvalidRequestError,
    PoeClient,
    Provider,
    SessionNotFoundError,
    Settings,
    StoreError,
)
from poe_mcp.simulator import SimState, Simulator
from poe_mcp.store import open_store
from poe_mcp.store.memory import MemoryStore


def _sent(simulator: Simulator, marker: str) -> list[dict[str, Any]]:
    return [r for r in simulator.requests() if marker in str(r.get("body"))]


# --- Conversation: where it lives, what a turn takes ---------------------------------------


async def test_history_and_reset_without_a_client_use_the_settings_store(
    simulator: Simulator, api_key: str
) -> None:
    """``Conversation(sid).history()`` in a later process (no client at hand) read a throwaway
    in-memory store: [] for a stored conversation, a reset that forgot nothing, and a binding
    that then made ``ask(client)`` fail with "does not exist"."""
    async with AsyncPoeClient(api_key, base_url=simulator.base_url) as client:  # SQLite store
        first = Conversation()
        await first.ask(client, "GPT-4.1", "remember the lighthouse")
        sid = first.session_id
        assert sid is not None

        later = Conversation(sid)
        history = await later.history()  # no client: the settings' store, as a client's
        assert [m["content"] for m in history if m["role"] == "user"] == ["remember the lighthouse"]
        answer = await later.ask(client, "GPT-4.1", "which one?")  # still the same session
        assert "received 3 messages" in answer.text

        await Conversation(sid).reset()  # no client: forgets it where it is stored
        with pytest.raises(SessionNotFoundError):
            await Conversation(sid).ask(client, "GPT-4.1", "still there?")
    assert not _sent(simulator, "still there?")


async def test_history_of_a_session_that_does_not_exist_is_an_error(
    client: AsyncPoeClient,
) -> None:
    with pytest.raises(SessionNotFoundError, match="does not exist or has expired"):
        await Conversation("never-made-1").history(client)
    assert await Conversation().history(client) == []  # a new conversation: nothing yet


@pytest.mark.parametrize("bad", [123, b"abc", 1.5, ["a"]])
def test_a_session_id_that_is_not_a_string_is_a_type_error(bad: Any) -> None:
    with pytest.raises(
        TypeError, match=f"session_id takes a string or None, not {type(bad).__name__}"
    ):
        Conversation(bad)


def test_a_store_or_system_prompt_of_the_wrong_type_is_refused_when_made() -> None:
    with pytest.raises(TypeError, match="store takes a Store"):
        Conversation(store="memory://")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="system takes a string"):
        Conversation(system=["be brief"])  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="ttl_s must be a finite number"):
        Conversation(ttl_s=-5)


@pytest.mark.parametrize(
    ("message", "shown"),
    [(None, "NoneType"), (5, "int"), ([{"role": "user", "content": "x"}], "list")],
)
async def test_a_turn_takes_a_prompt_or_one_message_never_a_list_or_a_number(
    client: AsyncPoeClient, simulator: Simulator, message: Any, shown: str
) -> None:
    """A list of messages read as ``dict(list)``: "message 0 has role 'content'"."""
    conversation = Conversation()
    with pytest.raises(
        TypeError, match=f"a prompt \\(a string\\) or one user message.*not {shown}"
    ):
        await conversation.ask(client, "GPT-4.1", message)
    assert simulator.requests() == []
    assert conversation.session_id is None


async def test_a_session_id_option_that_is_not_the_conversations_is_refused(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    """``ask(..., session_id="other")`` was dropped silently: the turn went to this one."""
    conversation = Conversation()
    await conversation.ask(client, "GPT-4.1", "first turn")
    with pytest.raises(TypeError, match="is not this conversation's session"):
        await conversation.ask(client, "GPT-4.1", "misrouted", session_id="other-session")
    with pytest.raises(TypeError, match="Conversation\\('other-session'\\)"):
        async for _ in conversation.stream(
            client, "GPT-4.1", "misrouted", session_id="other-session"
        ):
            pass
    assert not _sent(simulator, "misrouted")
    same = await conversation.ask(
        client, "GPT-4.1", "second turn", session_id=conversation.session_id
    )
    assert "received 3 messages" in same.text  # its own id is no conflict


async def test_a_turn_refuses_a_client_or_model_of_the_wrong_type(
    client: AsyncPoeClient, simulator: Simulator, api_key: str
) -> None:
    conversation = Conversation()
    with pytest.raises(TypeError, match="client takes an AsyncPoeClient, not NoneType"):
        await conversation.ask(None, "GPT-4.1", "hi")  # type: ignore[arg-type]
    with (
        PoeClient(api_key, base_url=simulator.base_url, store=False) as blocking,
        pytest.raises(TypeError, match=r"model\(name\)\.conversation\(\)"),
    ):
        await conversation.ask(blocking, "GPT-4.1", "hi")  # type: ignore[arg-type]
    for model in (None, 5, ["GPT-4.1"]):
        with pytest.raises(InvalidRequestError, match="a model name is needed"):
            await conversation.ask(client, model, "hi")  # type: ignore[arg-type]
        with pytest.raises(InvalidRequestError, match="a model name is needed"):
            await client.chat(model, "hi")  # type: ignore[arg-type]
    assert simulator.requests() == []


async def test_agent_run_refuses_a_session_id_given_as_the_conversation(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    agent = Agent(client, "GPT-4.1")
    with pytest.raises(TypeError, match="conversation=Conversation\\('abc-1'\\)"):
        await agent.run("hi", conversation="abc-1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="temperature takes a number, not str"):
        Agent(client, "GPT-4.1", options={"temperature": "hot"})  # type: ignore[typeddict-item]
    assert simulator.requests() == []


# --- ChatOptions: the types the signature promises -------------------------------------------

WRONG_TYPES: list[tuple[dict[str, Any], str]] = [
    ({"temperature": "hot"}, "temperature takes a number, not str"),
    ({"temperature": True}, "temperature takes a number, not bool"),
    ({"top_p": "x"}, "top_p takes a number, not str"),
    ({"max_tokens": "10"}, "max_tokens takes a whole number"),
    ({"max_tokens": 1.5}, "max_tokens takes a whole number"),
    ({"stop": 5}, "stop takes a string or a list of strings, not int"),
    ({"system": 5}, "system takes a string, not int"),
    ({"system": ["a"]}, "system takes a string, not list"),
    ({"tools": "get_weather"}, "tools takes a list of dicts, not str"),
    ({"tool_choice": 5}, "tool_choice takes a string or a dict, not int"),
    ({"parallel_tool_calls": "yes"}, "parallel_tool_calls takes True or False, not str"),
    ({"attachments": 5}, "attachments takes a path, bytes, or a list of them, not int"),
    ({"attachments": [5]}, "attachments takes paths \\(str or Path\\) and bytes, not int"),
    ({"extra": "x"}, "extra takes a dict, not str"),
    ({"extra": [("thinking_budget", 1)]}, "extra takes a dict, not list"),
    ({"session_id": 5}, "session_id takes a string, not int"),
    ({"timeout": "5"}, "timeout takes a number, not str"),
    ({"backend": 5}, "backend takes a string, not int"),
    ({"stream_options": ["include_usage"]}, "stream_options takes a dict, not list"),
    ({"fallbacks": 5}, "fallbacks takes a string or a list of strings, not int"),
    ({"temprature": 0.5}, "unexpected keyword.*temprature.*Did you mean 'temperature'"),
]


@pytest.mark.parametrize(("options", "message"), WRONG_TYPES)
async def test_chat_options_of_the_wrong_type_are_refused_before_sending(
    client: AsyncPoeClient, simulator: Simulator, options: dict[str, Any], message: str
) -> None:
    """Before: cryptic errors from deep inside ('<=' not supported..., 'int' object is not
    iterable), or the value sent for the provider to refuse (the simulator crashed on
    ``system=5``), or accepted silently (``parallel_tool_calls="yes"``)."""
    with pytest.raises(TypeError, match=message):
        await client.chat("GPT-4.1", "hi", **options)
    with pytest.raises(TypeError, match=message):
        async for _ in client.stream("GPT-4.1", "hi", **options):
            pass
    with pytest.raises(TypeError, match=message):
        await Conversation().ask(client, "GPT-4.1", "hi", **options)
    assert simulator.requests() == []


@pytest.mark.parametrize("timeout", [-1, 0, math.nan, math.inf])
async def test_a_timeout_that_is_not_a_positive_finite_duration_is_refused(
    client: AsyncPoeClient, simulator: Simulator, timeout: float
) -> None:
    """Before: -1 and 0 sent the request and reported a time-out, nan a ValueError."""
    with pytest.raises(InvalidRequestError, match="finite number of seconds greater than 0"):
        await client.chat("GPT-4.1", "hi", timeout=timeout)
    assert simulator.requests() == []


def test_a_model_objects_default_options_are_checked_when_it_is_made(
    client: AsyncPoeClient,
) -> None:
    with pytest.raises(TypeError, match="max_tokens takes a whole number"):
        client.model("GPT-4.1", max_tokens="400")  # type: ignore[arg-type]


async def test_one_attachment_path_is_one_file_not_its_characters(
    client: AsyncPoeClient, simulator: Simulator, tmp_path: Path
) -> None:
    """``attachments="notes.txt"`` was iterated: "attachment not found: n"."""
    notes = tmp_path / "notes.txt"
    notes.write_text("the lighthouse is red")
    answer = await client.chat("GPT-4.1", "read it", attachments=str(notes))
    assert "notes.txt" in answer.text
    raw = await client.chat("GPT-4.1", "and this", attachments=bytearray(b"plain bytes"))
    assert "attachment" in raw.text


# --- ClientOptions ---------------------------------------------------------------------------

CLIENT_WRONG_TYPES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"store": "memory://"}, TypeError, "store takes a Store .*open_store"),
    ({"store": True}, TypeError, "store takes a Store"),
    ({"catalog": "x"}, TypeError, "catalog takes a Catalog"),
    ({"limiter": 5}, TypeError, "limiter takes a RateLimiter"),
    ({"budget": 5}, TypeError, "budget takes a BudgetGuard"),
    ({"on_event": 5}, TypeError, "on_event takes a function"),
    ({"settings": {}}, TypeError, "settings takes a Settings"),
    ({"http_client": "http://127.0.0.1"}, TypeError, "http_client takes an httpx2.AsyncClient"),
    ({"timeout": "5"}, TypeError, "timeout takes a number"),
    ({"timeout": -1}, ConfigError, "timeout must be a finite number of seconds"),
    ({"max_retries": -1}, ConfigError, "max_retries must be 0 or more"),
    ({"max_retries": "3"}, TypeError, "max_retries takes a whole number"),
    ({"rpm": 1.5}, TypeError, "rpm takes a whole number"),
    ({"rpm": -5}, ConfigError, "rpm must be 0 or more"),
    ({"base_url": 5}, TypeError, "base_url takes a string"),
]


@pytest.mark.parametrize(("options", "error", "message"), CLIENT_WRONG_TYPES)
def test_client_options_of_the_wrong_type_are_refused_when_it_is_made(
    simulator: Simulator,
    api_key: str,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    """Before: accepted, then an AttributeError at the first call ('str' object has no
    attribute 'rate_limiter'), or silently used (max_retries=-1, rpm=-5, on_event=5)."""
    base = {"base_url": simulator.base_url, **options}
    with pytest.raises(error, match=message):
        AsyncPoeClient(api_key, **base)
    with pytest.raises(error, match=message):
        PoeClient(api_key, **base)


def test_a_wrong_http_client_is_refused_when_the_client_is_made(api_key: str) -> None:
    with httpx2.Client() as blocking, pytest.raises(TypeError, match="not Client"):
        AsyncPoeClient(api_key, http_client=blocking)


def test_a_provider_object_is_refused_with_where_its_facts_come_from(api_key: str) -> None:
    provider = Settings.load().provider_info
    assert isinstance(provider, Provider)
    with pytest.raises(TypeError, match="provider takes the provider's name \\('poe'\\)"):
        AsyncPoeClient(api_key, provider=provider)  # type: ignore[arg-type]


# --- API keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "what"),
    [
        ("sk-é-secret-1234", "a non-ASCII character"),
        ("Bearer sk-secret-1234", "a space"),
        ("sk-secret\n1234", "a line break"),
    ],
)
def test_a_key_that_cannot_go_in_a_header_is_a_config_error_naming_its_source(
    monkeypatch: pytest.MonkeyPatch, key: str, what: str
) -> None:
    """Before: a UnicodeEncodeError traceback from the HTTP layer (accented letter), a
    network error "Illegal header value" (blank), or the request sent (a control byte)."""
    with pytest.raises(
        ConfigError, match=f"\\(the api_key argument\\) cannot be sent: it holds {what}"
    ) as exc:
        AsyncPoeClient(key)
    assert key not in str(exc.value)
    monkeypatch.setenv("POE_API_KEY", key)
    with pytest.raises(
        ConfigError, match=f"\\(POE_API_KEY\\) cannot be sent: it holds {what}"
    ) as exc:
        AsyncPoeClient()
    assert key not in str(exc.value)


def test_a_blank_key_is_no_key_and_spaces_around_a_key_are_not_part_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POE_API_KEY", "   ")
    with pytest.raises(Exception, match="No API key for provider 'poe'"):
        AsyncPoeClient()
    monkeypatch.setenv("POE_API_KEY", "  sk-good-key-1234\n")
    assert AsyncPoeClient().key_id == AsyncPoeClient("sk-good-key-1234").key_id


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_budget_that_is_not_finite_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """``POE_MCP_BUDGET_DAILY_USD=nan`` compared false with every spend: no limit at all."""
    monkeypatch.setenv("POE_MCP_BUDGET_DAILY_USD", value)
    with pytest.raises(ConfigError, match="POE_MCP_BUDGET_DAILY_USD must be a finite amount"):
        Settings.load()


# --- Stores: clocks, URLs, rate limiters ------------------------------------------------------


def _raises() -> float:
    raise RuntimeError("the clock broke")


BAD_CLOCKS: list[tuple[Any, type[Exception], str]] = [
    (_raises, ConfigError, "the store's clock raised RuntimeError: the clock broke"),
    (lambda: "now", ConfigError, "the store's clock returned str"),
    (lambda: None, ConfigError, "the store's clock returned NoneType"),
    (lambda: math.nan, ConfigError, "the store's clock returned nan"),
    (lambda: math.inf, ConfigError, "the store's clock returned inf"),
    (1_700_000_000.0, TypeError, "clock takes a function"),
]


@pytest.mark.parametrize("scheme", ["memory", "sqlite"])
@pytest.mark.parametrize(("clock", "error", "message"), BAD_CLOCKS)
def test_a_clock_that_cannot_tell_the_time_is_refused_when_the_store_opens(
    tmp_path: Path, scheme: str, clock: Any, error: type[Exception], message: str
) -> None:
    """Before: a TypeError inside the backend at the first turn, or (nan) a NOT NULL
    constraint failure after the model had answered, or (inf) every session expired at once."""
    url = "memory://" if scheme == "memory" else f"sqlite:///{tmp_path / 'clock.db'}"
    with pytest.raises(error, match=message):
        open_store(url, clock=clock)


async def test_a_clock_that_goes_bad_later_fails_the_turn_as_a_store_error(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    readings: list[Any] = [1_700_000_000.0]
    store = open_store("memory://", clock=lambda: readings[-1])
    conversation = Conversation(store=store)
    await conversation.ask(client, "GPT-4.1", "while the clock works")
    readings.append("broken")
    with pytest.raises(StoreError, match="the store's clock returned str"):
        await conversation.ask(client, "GPT-4.1", "after it broke")
    assert not _sent(simulator, "after it broke")  # the load failed: nothing sent


def test_a_store_url_that_is_not_a_string_or_holds_nul_is_refused(tmp_path: Path) -> None:
    for url in (None, 5, Path("x.db")):
        with pytest.raises(TypeError, match="url takes a store URL \\(a string\\)"):
            open_store(url)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="NUL"):
        open_store(f"sqlite:///{tmp_path}/a\x00b.db")


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("x",), {}, TypeError, "rpm takes a whole number"),
        ((1.5,), {}, TypeError, "rpm takes a whole number"),
        ((500,), {"burst": 0}, ValueError, "burst must be at least 1"),
        ((500,), {"burst": -3}, ValueError, "burst must be at least 1"),
        ((500,), {"max_wait_s": -1}, ValueError, "max_wait_s must be a finite number"),
        ((500,), {"max_wait_s": math.nan}, ValueError, "max_wait_s must be a finite number"),
    ],
)
def test_a_stores_rate_limiter_refuses_numbers_it_cannot_work_with(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Before: burst 0 and -3, max_wait_s -1 and nan, rpm 1.5 were accepted silently."""
    with pytest.raises(error, match=message):
        MemoryStore().rate_limiter(*args, **kwargs)


# --- The simulator's public API ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rpm": 0}, "rpm must be a finite number, at least 1"),
        ({"rpm": "x"}, "rpm must be a whole number, not str"),
        ({"latency_ms": -5}, "latency_ms must be a finite number, at least 0"),
        ({"media_delay_s": math.nan}, "media_delay_s must be a finite number"),
        ({"initial_points": -1}, "initial_points must be a finite number, at least 0"),
        ({"port": 70000}, "port must be a finite number, at least 0 and at most 65535"),
        ({"port": "8787"}, "port must be a whole number, not str"),
    ],
)
def test_the_simulator_refuses_settings_that_cannot_work(
    options: dict[str, Any], message: str
) -> None:
    """Before: accepted, then every request 429 (rpm=0), a 500 (rpm='x'), an OverflowError at
    start (port), a 402 for every key (negative points)."""
    with pytest.raises(ConfigError, match=message):
        Simulator(**options)


def test_sim_state_refuses_a_clock_that_is_not_callable() -> None:
    with pytest.raises(TypeError, match="clock takes a function"):
        SimState(clock=0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "GPT-4.1", "messages": [{"role": "user", "content": 5}]}, "content must be"),
        (
            {
                "model": "GPT-4.1",
                "messages": [{"role": "system", "content": 5}, {"role": "user", "content": "hi"}],
            },
            "messages\\[0\\].content must be a string or an array of parts",
        ),
        ({"model": 5, "messages": [{"role": "user", "content": "hi"}]}, "'model' must be a string"),
        (
            {"model": "GPT-4.1", "messages": [{"role": "user", "content": [1, 2]}]},
            "content\\[0\\] must be an object with a type",
        ),
        (
            {
                "model": "GPT-4.1",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": None, "tool_calls": "get_weather"},
                ],
            },
            "messages\\[1\\].tool_calls must be an array",
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_the_simulator_answers_400_to_malformed_messages_never_500(
    simulator: Simulator, api_key: str, body: dict[str, Any], message: str, stream: bool
) -> None:
    """Before: an unhandled TypeError in the simulator (500, a traceback in its log)."""
    answer = httpx.post(
        f"{simulator.base_url}/chat/completions",
        json={**body, "stream": stream},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=5,
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert re.search(message, error["message"]), error["message"]
