"""``poe-mcp chat``: one question to a model from the command line (thin, over the client)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

__all__ = ["chat", "parse_params"]


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``k=v`` pairs as a dict; values that parse as JSON (numbers, true, objects) are typed."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--param")
        try:
            params[name.strip()] = json.loads(raw)
        except ValueError:
            params[name.strip()] = raw
    return params


@click.command()
@click.argument("model")
@click.argument("prompt", required=False)
@click.option("-s", "--system", help="System prompt.")
@click.option("-t", "--temperature", type=float, help="Sampling temperature, 0..2.")
@click.option("-m", "--max-tokens", type=int, help="Longest answer, in tokens (>= 1).")
@click.option("--top-p", type=float, help="Nucleus sampling, 0..1.")
@click.option("--stop", multiple=True, help="Stop sequence (up to 4; repeat the option).")
@click.option(
    "-p", "--param", "params", multiple=True, help="Bot parameter NAME=VALUE (repeatable)."
)
@click.option(
    "-a",
    "--attach",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="File to send along (image, PDF, text...; repeatable).",
)
@click.option("--stream/--no-stream", default=True, show_default=True, help="Print as it arrives.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option(
    "--session",
    help="Continue the conversation with this id ('new' starts one); the id is printed on stderr.",
)
@click.option(
    "--backend", type=click.Choice(["openai", "legacy"]), help="REST API or bot protocol."
)
@click.option("--provider", type=click.Choice(["poe", "openai", "compatible"]), help="Provider.")
@click.option("--base-url", help="API base URL (e.g. a simulator's http://127.0.0.1:8787/v1).")
def chat(
    model: str,
    prompt: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    top_p: float | None,
    stop: tuple[str, ...],
    params: tuple[str, ...],
    attach: tuple[str, ...],
    stream: bool,
    as_json: bool,
    session: str | None,
    backend: str | None,
    provider: str | None,
    base_url: str | None,
) -> None:
    """Ask MODEL a question. PROMPT '-' (or none, with piped input) reads standard input.

    \b
    Examples:
      poe-mcp chat Claude-Sonnet-4 "Explain GCRA in one paragraph"
      git diff | poe-mcp chat GPT-4.1 -s "Review this diff"
      poe-mcp chat GPT-4.1 "What is in this picture?" --attach photo.png
    """
    if prompt in (None, "-"):
        if prompt is None and sys.stdin.isatty():
            raise click.UsageError("give a PROMPT, or pipe one on standard input")
        prompt = sys.stdin.read()
    call: dict[str, Any] = {
        "system": system,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "top_p": top_p,
        "stop": list(stop) or None,
        "extra": parse_params(params) or None,
        "attachments": list(attach) or None,
        "backend": backend,
    }
    asyncio.run(
        _run(
            model,
            prompt,
            call,
            stream=stream and not as_json,
            as_json=as_json,
            session=session,
            client_args={"provider": provider, "base_url": base_url},
        )
    )


async def _run(
    model: str,
    prompt: str,
    call: dict[str, Any],
    *,
    stream: bool,
    as_json: bool,
    session: str | None,
    client_args: dict[str, Any],
) -> None:
    from ..client import AsyncPoeClient
    from ..config import Settings

    settings = Settings.load(**client_args)
    store: Any = None
    turn: Any = None
    conversations: Any = None
    messages: Any = prompt
    if session:
        from ..sessions import Conversations
        from ..store import open_store

        store = open_store(settings.store_url)
        conversations = Conversations(store.sessions, ttl_s=settings.session_ttl_s)
        system = call.pop("system")
        from .._messages import build_messages

        user = build_messages(prompt, attachments=call.pop("attachments"))[-1]
        turn = await conversations.prepare(
            None if session == "new" else session,
            user,
            system=system,
            max_output_tokens=call.get("max_tokens"),
        )
        messages = turn.messages
        call["session_id"] = turn.session_id
    try:
        async with AsyncPoeClient(
            settings=settings, store=store if store is not None else None, entry_point="cli"
        ) as client:
            if stream:
                result = None
                async for delta in client.stream(model, messages, **call):
                    if delta.result is not None:
                        result = delta.result
                    elif delta.text:
                        click.echo(delta.text, nl=False)
                click.echo()
            else:
                result = await client.chat(model, messages, **call)
                if as_json:
                    click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
                else:
                    click.echo(result.text)
            if turn is not None and result is not None:
                await conversations.commit(
                    turn,
                    {"role": "assistant", "content": result.text},
                    model=result.model,
                    backend=result.backend,
                )
                click.echo(f"session: {turn.session_id}", err=True)
    finally:
        if store is not None:
            await store.aclose()
