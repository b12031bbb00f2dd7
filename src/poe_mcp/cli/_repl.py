"""The interactive chat: ``poe-mcp chat`` with no prompt on a terminal.

Line editing, history (``<data dir>/chat-history.txt``) and multi-line input come from
``prompt_toolkit``: Enter sends, Esc then Enter (or Alt+Enter) starts a new line, and pasted text
keeps its line breaks. Ctrl-C while an answer streams cancels that answer (nothing is stored) and
the chat goes on; Ctrl-C at the prompt clears the line; Ctrl-D or ``/exit`` leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._money import format_usd
from ..errors import PoeError
from ._answer import AnswerView
from ._term import dim, fail, no_echo, ok, visible

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyBindings

    from ..config import Settings
    from ._answer import ChatState

__all__ = ["COMMANDS", "run_repl"]

COMMANDS: dict[str, str] = {
    "/model": "[NAME]   switch the model (no NAME: show the current one)",
    "/system": "[TEXT]   set the system prompt (/system off: none; no TEXT: show it)",
    "/attach": "FILE     attach a file to your next message (repeat; /attach off: none)",
    "/reset": "         forget this conversation and start a new one",
    "/save": "[FILE]   save the conversation as Markdown",
    "/cost": "         tokens and cost of this chat so far",
    "/help": "         this list",
    "/exit": "         leave (also Ctrl-D)",
}
_ALIASES = {"/quit": "/exit", "/q": "/exit", "/?": "/help", "/clear": "/reset"}


@dataclass
class _Repl:
    state: ChatState
    settings: Settings
    pending: list[str] = field(default_factory=list)
    running: bool = True

    # --- slash commands ----------------------------------------------------------------

    async def command(self, line: str) -> None:
        name, _, arg = line.strip().partition(" ")
        name = _ALIASES.get(name.lower(), name.lower())
        arg = arg.strip()
        handler: Callable[[str], Awaitable[None]] | None = (
            getattr(self, f"do_{name[1:]}", None) if name in COMMANDS else None
        )
        if handler is None:
            click.echo(
                fail(f"unknown command {name}: /help lists them (// sends a text starting with /)"),
                err=True,
            )
            return
        await handler(arg)

    async def do_help(self, arg: str) -> None:
        click.echo("Commands:")
        for name, text in COMMANDS.items():
            click.echo(f"  {name:<8} {text}")
        click.echo(dim("Enter sends; Esc Enter (Alt+Enter) adds a line; Ctrl-C cancels an answer."))
        click.echo(dim("A message starting with / is written //, e.g. //usr/bin holds what?"))

    async def do_exit(self, arg: str) -> None:
        self.running = False

    async def do_model(self, arg: str) -> None:
        if not arg:
            click.echo(f"model: {self.state.model}")
            return
        catalog = self.state.client.catalog
        if catalog is not None:
            try:
                info = await catalog.find(await self.state.client.resolve_model(arg))  # aliases
            except PoeError:
                info = None  # the catalog is unreachable: the next answer will tell
            else:
                if info is None:
                    names = catalog.suggestions(arg)
                    hint = f" Did you mean: {', '.join(names)}?" if names else ""
                    click.echo(fail(f"unknown model {arg!r}.{hint}"), err=True)
                    return
            arg = info.id if info is not None else arg
        self.state.model = arg
        click.echo(ok(f"model: {arg}"))

    async def do_system(self, arg: str) -> None:
        conversation = self.state.conversation
        if not arg:
            click.echo(f"system prompt: {conversation.system or '(none)'}")
            return
        conversation.system = None if arg.lower() in ("off", "none", "-") else arg
        click.echo(ok(f"system prompt {'cleared' if conversation.system is None else 'set'}"))

    async def do_attach(self, arg: str) -> None:
        if not arg:
            listed = ", ".join(self.pending) or "none"
            click.echo(f"attached to your next message: {listed}")
            return
        if arg.lower() in ("off", "none", "-"):
            dropped, self.pending = len(self.pending), []
            click.echo(ok(f"dropped {dropped} attachment(s)"))
            return
        try:
            names = shlex.split(arg)
        except ValueError:
            names = [arg]
        for name in names:
            path = Path(name).expanduser()  # noqa: ASYNC240 - one stat of a local file
            if not path.is_file():
                click.echo(fail(f"no such file: {name}"), err=True)
                continue
            self.pending.append(str(path))
            size = path.stat().st_size
            click.echo(ok(f"attached {path.name} ({size:,} bytes) to your next message"))

    async def do_reset(self, arg: str) -> None:
        await self.state.conversation.reset(self.state.client)
        self.pending.clear()
        click.echo(ok("new conversation (the previous one is forgotten)"))

    async def do_save(self, arg: str) -> None:
        from ._transcript import messages_markdown

        conversation = self.state.conversation
        messages = await conversation.history(self.state.client)
        if not messages:
            click.echo(fail("nothing to save yet"), err=True)
            return
        sid = conversation.session_id or "chat"
        default = f"chat-{time.strftime('%Y%m%d')}-{sid[:8]}.md"
        path = Path(arg or default).expanduser()  # noqa: ASYNC240 - a local path, no I/O
        title = f"Conversation {sid} ({time.strftime('%Y-%m-%d %H:%M')})"
        try:
            path.write_text(messages_markdown(title, messages), encoding="utf-8")
        except OSError as exc:
            click.echo(fail(f"cannot write {path}: {exc.strerror}"), err=True)
            return
        click.echo(ok(f"saved {len(messages)} messages to {path}"))

    async def do_cost(self, arg: str) -> None:
        results = self.state.results
        tokens_in = sum(r.usage.input_tokens for r in results)
        tokens_out = sum(r.usage.output_tokens for r in results)
        known = [r.cost for r in results if r.cost is not None]
        unknown = len(results) - len(known)
        cost = format_usd(sum(known)) if known or not results else "unknown"
        if unknown and known:
            cost += f" + {unknown} unpriced"
        click.echo(
            f"this chat: {len(results)} answers, {tokens_in:,} tokens in / {tokens_out:,} out, "
            f"cost {cost}"
        )

    # --- one question --------------------------------------------------------------------

    async def ask(self, text: str) -> None:
        view = AnswerView(self.state.model)
        attachments = list(self.pending)
        task = asyncio.ensure_future(self.state.answer(text, attachments=attachments, view=view))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals: Windows
            loop.add_signal_handler(signal.SIGINT, task.cancel)
        try:
            with no_echo(), view:
                try:
                    await task
                except asyncio.CancelledError:
                    view.cancelled()
                    return
                except PoeError as exc:
                    view.close()
                    click.echo(fail(f"error ({exc.kind}): {visible(str(exc))}"), err=True)
                    if self.pending:  # kept for a retry; a broken one must not block the chat
                        click.echo(
                            dim(
                                f"({len(self.pending)} attachment(s) stay for your next "
                                "message; /attach off drops them)"
                            ),
                            err=True,
                        )
                    return
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
        self.pending.clear()


def _bindings() -> KeyBindings:
    from prompt_toolkit.key_binding import KeyBindings

    bindings = KeyBindings()

    @bindings.add("enter")
    def _send(event: Any) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    def _newline(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


async def run_repl(state: ChatState, settings: Settings, *, attachments: list[str]) -> None:
    """Read questions and slash commands until ``/exit`` or Ctrl-D."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    from .._redact import redact

    class _History(FileHistory):
        """The history file, with a key pasted into the chat never written to it."""

        def store_string(self, string: str) -> None:
            super().store_string(redact(string))

    settings.home.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(
        history=_History(str(settings.home / "chat-history.txt")),
        multiline=True,
        key_bindings=_bindings(),
        prompt_continuation="… ",
        completer=WordCompleter([*COMMANDS, *_ALIASES], sentence=True),
        complete_while_typing=False,
    )
    repl = _Repl(state, settings, pending=list(attachments))
    sid = state.conversation.session_id
    where = f"continuing {sid}" if sid else "new conversation"
    click.echo(dim(f"poe-mcp chat · {state.model} · {where} · /help for commands, Ctrl-D to leave"))
    while repl.running:
        try:
            text = await session.prompt_async(f"{state.model} › ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        text = text.strip()
        if not text:
            continue
        if text.startswith("//"):  # a message that itself starts with "/"
            await repl.ask(text[1:])
        elif text.startswith("/"):
            await repl.command(text)
        else:
            await repl.ask(text)
