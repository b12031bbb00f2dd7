"""``poe-mcp chat``: one question, or an interactive chat, over :class:`~poe_mcp.Conversation`.

Every answer is a turn of a stored conversation (``-c`` continues the last one, ``--session ID``
a given one); the drawing (spinner, Markdown, summary line) is in ``_answer``, the interactive
loop in ``_repl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

import click

from .. import _constants as C
from ._options import attach_option, param_option, parse_params

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["chat", "last_session", "read_stdin", "remember_session"]

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.:/-]*$")
_LAST_SESSION_FILE = "cli-last-session.json"


def read_stdin() -> str:
    """Standard input as UTF-8 text; binary input is refused in one clear line.

    Read as bytes, so the locale's error handler (strict: a traceback; surrogateescape: text
    that fails later, deep in the HTTP layer) never decides.
    """
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text-only stream (embedded use): it has decoded already
        return sys.stdin.read()
    data = stream.read()
    try:
        return str(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise click.UsageError(
            f"standard input is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}): send files with --attach, not on standard input"
        ) from None


def last_session(settings: Settings) -> str | None:
    """The conversation the CLI used last with this store (for ``-c``), or None."""
    path = settings.home / _LAST_SESSION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get(settings.store_url) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def remember_session(settings: Settings, session_id: str) -> None:
    """Note ``session_id`` as the CLI's most recent conversation with this store."""
    path = settings.home / _LAST_SESSION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    data[settings.store_url] = session_id
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # -c then continues an older conversation; never worth failing an answer


def _split_args(args: tuple[str, ...], model: str | None) -> tuple[str | None, str | None]:
    """``[PROMPT]``, or the older ``MODEL PROMPT`` when that is unambiguous."""
    if len(args) > 2 or (len(args) == 2 and model is not None):
        raise click.UsageError(
            "give one PROMPT (quote it) and the model with -m, e.g. "
            'poe-mcp chat -m GPT-4.1 "What is MCP?"'
        )
    if len(args) == 2:
        if not _MODEL_NAME.match(args[0]):
            raise click.UsageError(f"{args[0]!r} is not a model name: quote the whole prompt")
        return args[0], args[1]
    return model, (args[0] if args else None)


@click.command()
@click.argument("args", nargs=-1, metavar="[PROMPT]")
@click.option(
    "-m",
    "--model",
    help=f"The model [default: `model` in config.toml or POE_MCP_MODEL, else "
    f"{C.DEFAULT_CHAT_MODEL}; `poe-mcp models --set-default NAME` sets it].",
)
@click.option("-s", "--system", help="System prompt.")
@click.option("-t", "--temperature", type=float, help="Sampling temperature, 0..2.")
@click.option("--max-tokens", type=int, help="Longest answer, in tokens (>= 1).")
@click.option("--top-p", type=float, help="Nucleus sampling, 0..1.")
@click.option("--stop", multiple=True, help="Stop sequence (up to 4; repeat the option).")
@param_option
@attach_option("File to send along (image, PDF, text...; repeatable).")
@click.option("--stream/--no-stream", default=True, show_default=True, help="Print as it arrives.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option(
    "--schema",
    metavar="FILE|JSON",
    help="Answer as JSON valid against this JSON Schema (a file, or inline JSON; also a "
    "json_schema or whole response_format object). Invalid answers get one repair round.",
)
@click.option("--json-object", is_flag=True, help="Answer as a JSON object (no schema).")
@click.option(
    "-c", "--continue", "cont", is_flag=True, help="Continue the most recent conversation."
)
@click.option(
    "--session",
    help="Continue the conversation with this id ('new' starts one; an unknown id is an error). "
    "The id is printed on stderr.",
)
@click.option(
    "--stats/--no-stats",
    default=None,
    help="After each answer, a line with model, tokens, cost and latency on stderr "
    "[default: when stderr is a terminal].",
)
@click.option(
    "--log/--no-log",
    default=None,
    help="Keep this prompt and answer in `poe-mcp logs` [default: on; [logs] cli in config.toml, "
    "POE_MCP_LOGS].",
)
@click.option(
    "--backend", type=click.Choice(["openai", "legacy"]), help="REST API or bot protocol."
)
@click.option(
    "--fallback",
    "fallbacks",
    multiple=True,
    metavar="MODEL",
    help="Model to try when the model fails with a rate limit, 5xx, overload, moderation or a "
    "too-small context (repeat for a chain; default: [fallbacks] in config.toml).",
)
@click.option(
    "--reasoning",
    metavar="LEVEL|TOKENS",
    help="Reasoning effort: low, medium, high or a token budget, mapped to what the model takes.",
)
@click.option("--provider", type=click.Choice(["poe", "openai", "compatible"]), help="Provider.")
@click.option("--base-url", help="API base URL (e.g. a simulator's http://127.0.0.1:8787/v1).")
def chat(
    args: tuple[str, ...],
    model: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    top_p: float | None,
    stop: tuple[str, ...],
    params: tuple[str, ...],
    attach: tuple[str, ...],
    stream: bool,
    as_json: bool,
    schema: str | None,
    json_object: bool,
    cont: bool,
    session: str | None,
    stats: bool | None,
    log: bool | None,
    backend: str | None,
    fallbacks: tuple[str, ...],
    reasoning: str | None,
    provider: str | None,
    base_url: str | None,
) -> None:
    """Ask a model. No PROMPT on a terminal opens an interactive chat; PROMPT '-' (or none,
    with piped input) reads standard input.

    \b
    Examples:
      poe-mcp chat "Explain GCRA in one paragraph"
      poe-mcp chat -m Claude-Sonnet-4 "What is in this picture?" --attach photo.png
      git diff | poe-mcp chat -m GPT-4.1 -s "Review this diff"
      poe-mcp chat -c "And in French?"            # continue the last conversation
      poe-mcp chat "Three colours" --schema colours.schema.json   # validated JSON
      poe-mcp chat                                # interactive: /help lists the commands
    """
    from .._logbook import logging_override
    from ..config import Settings
    from ._schema import response_format_option
    from .compare import parse_effort

    model, prompt = _split_args(args, model)
    if cont and session:
        raise click.UsageError("use either -c/--continue or --session, not both")
    if model is not None and not model.strip():
        raise click.BadParameter(
            "give a model name (or leave -m out for the default)", param_hint="-m"
        )
    if session is not None and not session.strip():
        raise click.BadParameter(
            "give a session id ('new' starts one; `poe-mcp sessions list` shows them)",
            param_hint="--session",
        )
    settings = Settings.load(provider=provider, base_url=base_url)
    settings.logs  # noqa: B018 - a bad POE_MCP_LOGS is said before anything is sent
    interactive = prompt is None and sys.stdin.isatty() and not as_json
    if not interactive and prompt in (None, "-"):
        if prompt is None and sys.stdin.isatty():
            raise click.UsageError("give a PROMPT, or pipe one on standard input")
        prompt = read_stdin()
    if cont:
        session = last_session(settings)
        if session is None:
            raise click.UsageError("no earlier conversation to continue: start one without -c")
    options: dict[str, Any] = {
        "system": system,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "top_p": top_p,
        "stop": list(stop) or None,
        "extra": parse_params(params) or None,
        "backend": backend,
        "response_format": response_format_option(schema, json_object),
        "fallbacks": list(fallbacks) or None,
        "reasoning_effort": parse_effort(reasoning),
    }
    run = _Run(
        settings,
        model.strip() if model else None,
        options,
        session=session,
        attachments=list(attach),
        stream=stream and not as_json,
        stats=_stats_default() if stats is None else stats,
    )
    with logging_override(log):
        if interactive:
            asyncio.run(run.interactive())
        else:
            assert prompt is not None
            asyncio.run(run.once(prompt, as_json=as_json, show_session=bool(session)))


async def _session_model(client: Any, session_id: str) -> str | None:
    """The model that last answered in ``session_id`` (None when not recorded).

    Raises:
        SessionNotFoundError: no such live session: said now, not at every turn of a chat.
    """
    from ..errors import SessionNotFoundError

    store = await client.get_store()
    if store is None:
        return None
    stored = await store.sessions.get(session_id)
    if stored is None:
        raise SessionNotFoundError(session_id, ttl_s=client.settings.session_ttl_s)
    model = getattr(stored, "model", None)
    return model if isinstance(model, str) and model.strip() else None


def _stats_default() -> bool:
    from ._term import is_terminal

    return is_terminal()


@dataclass
class _Run:
    """One ``poe-mcp chat`` invocation: the client, the conversation, then one or many turns."""

    settings: Settings
    model: str | None
    options: dict[str, Any]
    _: KW_ONLY
    session: str | None
    attachments: list[str]
    stream: bool
    stats: bool

    async def _state(self) -> Any:
        from ..client import AsyncPoeClient
        from ..conversation import Conversation
        from ._answer import ChatState

        client = AsyncPoeClient(settings=self.settings, entry_point="cli")
        conversation = Conversation(self.session, system=self.options.pop("system"))
        model = self.model
        if conversation.session_id:
            try:  # opens the store early: a bad URL or an unknown session fails now
                stored_model = await _session_model(client, conversation.session_id)
            except BaseException:
                await client.aclose()
                raise
            # -c / --session without -m: the model the conversation used last
            model = model or stored_model
        return ChatState(
            client,
            conversation,
            model or self.settings.model,
            self.options,
            stream=self.stream,
            stats=self.stats,
        )

    async def once(self, prompt: str, *, as_json: bool, show_session: bool) -> None:
        from ._answer import AnswerView
        from ._term import no_echo

        state = await self._state()
        try:
            view = AnswerView(state.model, quiet=as_json)
            # a ^C echo would make the live display draw twice; piped (e.g. into less, which
            # sets the terminal up itself), the terminal is left alone
            quiet = no_echo() if view.rich else contextlib.nullcontext()
            with quiet, view:
                result = await state.answer(prompt, attachments=self.attachments, view=view)
            if result.session_id:
                remember_session(self.settings, result.session_id)
            if as_json:
                click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
            if show_session:
                click.echo(f"session: {result.session_id}", err=True)
        finally:
            await state.client.aclose()

    async def interactive(self) -> None:
        from ._repl import run_repl

        state = await self._state()
        try:
            await run_repl(state, self.settings, attachments=self.attachments)
        finally:
            if state.conversation.session_id:
                remember_session(self.settings, state.conversation.session_id)
            await state.client.aclose()
