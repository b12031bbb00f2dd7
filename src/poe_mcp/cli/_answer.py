"""One answer on screen: spinner, streamed Markdown (or plain text), summary line, notices.

Shared by ``poe-mcp chat PROMPT`` and the interactive chat. On a terminal the answer is drawn
with ``rich`` as Markdown, redrawn as it streams, behind a spinner until the first token;
redirected, it is plain text written as it arrives. A ``replace`` delta (the bot protocol drops
a placeholder) redraws on a terminal; in plain text the new answer starts on a fresh line unless
it merely extends what was printed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from .. import _constants as C
from .._money import format_usd
from ._term import dim, is_terminal, notice, symbol, visible

if TYPE_CHECKING:
    from rich.live import Live

    from ..client import AsyncPoeClient
    from ..conversation import Conversation
    from ..types import ChatResult, Delta

__all__ = ["AnswerView", "ChatState", "summary_line"]


def summary_line(result: ChatResult) -> str:
    """``GPT-4.1 · 19 in / 25 out tokens · $0.00043 · 1.2 s`` (``~`` marks estimated counts)."""
    usage = result.usage
    mark = "~" if usage.estimated else ""
    cost = "cost unknown" if result.cost is None else format_usd(result.cost)
    dot = f" {symbol('dot')} "
    return dot.join(
        [
            result.model,
            f"{mark}{usage.input_tokens:,} in / {mark}{usage.output_tokens:,} out tokens",
            cost,
            f"{result.latency_s:.1f} s",
        ]
    )


class AnswerView:
    """Draws one answer. Use as a context manager; feed deltas, then :meth:`done` or leave.

    Args:
        label: shown beside the spinner (the model's name).
        rich_output: draw with ``rich`` (Markdown, spinner); default: stdout is a terminal.
        quiet: draw nothing (``--json`` prints the result itself).
    """

    def __init__(self, label: str, *, rich_output: bool | None = None, quiet: bool = False) -> None:
        self.label = label
        self.quiet = quiet
        self.rich = not quiet and (is_terminal(sys.stdout) if rich_output is None else rich_output)
        self.text = ""
        self._printed = ""
        self._live: Live | None = None

    def __enter__(self) -> AnswerView:
        if self.rich:
            from rich.console import Console
            from rich.live import Live
            from rich.spinner import Spinner

            self._live = Live(
                Spinner("dots", text=f"{self.label} is thinking…", style="cyan"),
                console=Console(),
                refresh_per_second=C.CHAT_SPINNER_REFRESH_HZ,
                vertical_overflow="visible",
                transient=False,
            )
            self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._live is not None:
            if not self.text:  # no answer drawn: leave no frozen spinner behind
                from rich.text import Text

                self._live.update(Text(""), refresh=True)
            self._live.stop()
            self._live = None

    def _draw(self) -> None:
        if self.quiet:
            return
        if self._live is not None:
            from rich.markdown import Markdown

            self._live.update(Markdown(visible(self.text)))  # escapes shown, not obeyed
            return
        if self.text.startswith(self._printed):
            click.echo(self.text[len(self._printed) :], nl=False)
        else:  # replaced: what was printed is wrong, give the new answer on its own line
            click.echo("\n" + self.text, nl=False)
        sys.stdout.flush()
        self._printed = self.text

    def feed(self, delta: Delta) -> None:
        """Add a streamed piece (``replace`` starts the text over)."""
        if not delta.text and not delta.replace:
            return
        self.text = delta.text if delta.replace else self.text + delta.text
        self._draw()

    def done(self, result: ChatResult) -> None:
        """Show the final answer (the assembled text is authoritative) and close."""
        if result.text != self.text or (self._live is None and not self._printed):
            self.text = result.text
            self._draw()
        self._stop()
        if not self.rich and not self.quiet:
            click.echo()

    def close(self) -> None:
        """Close without a final answer (an error follows), keeping what arrived on screen."""
        self._stop()
        if not self.rich and self._printed:
            click.echo()

    def cancelled(self) -> None:
        """Close after Ctrl-C, keeping what arrived on screen."""
        self._stop()
        if not self.rich and self._printed:
            click.echo()
        click.echo(dim("(answer cancelled; nothing was stored)"), err=True)

    def notice(self, message: str) -> None:
        """A warning that does not break the drawing (printed above the live area)."""
        if self._live is not None:
            from rich.text import Text

            self._live.console.print(Text(f"{symbol('warn')} {message}", style="yellow"))
        else:
            notice(message)


@dataclass
class ChatState:
    """What one chat (one prompt, or an interactive run) keeps between answers.

    Attributes:
        client: the client every call goes through.
        conversation: the stored conversation (sessions store).
        model: the current model (``/model`` changes it).
        options: chat options for every turn (temperature, max_tokens, extra, backend...).
        stream: stream the answers.
        stats: print the summary line after each answer.
        results: this run's answers, for ``/cost``.
    """

    client: AsyncPoeClient
    conversation: Conversation
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    stream: bool = True
    stats: bool = True
    results: list[ChatResult] = field(default_factory=list)

    async def answer(
        self, prompt: str, *, attachments: list[str] | None = None, view: AnswerView
    ) -> ChatResult:
        """Ask one turn, drawing it in ``view``; the summary line and notices follow."""
        from .._events import ClientEvent

        def tell(event: ClientEvent) -> None:
            if event.kind != "truncated":  # said once, after the answer (see after())
                view.notice(event.message)

        self.client.on_event = tell  # waits and retries, shown while the answer is awaited
        options = {k: v for k, v in self.options.items() if v is not None}
        if attachments:
            options["attachments"] = attachments
        result: ChatResult | None = None
        if self.stream:
            async for delta in self.conversation.stream(self.client, self.model, prompt, **options):
                if delta.result is not None:
                    result = delta.result
                else:
                    view.feed(delta)
        else:
            result = await self.conversation.ask(self.client, self.model, prompt, **options)
        if result is None:  # the client ends every stream with a result or an error
            from ..errors import IncompleteStreamError

            raise IncompleteStreamError("the stream ended without a result", partial_text=view.text)
        view.done(result)
        self.results.append(result)
        self.after(result)
        return result

    def after(self, result: ChatResult) -> None:
        """The notices and the summary line that follow an answer (stderr)."""
        skipped = [a for a in result.attempts if a.outcome != "ok"]
        if skipped:  # a fallback answered: say so even when piped, the text alone cannot tell
            why = ", ".join(f"{a.model} ({a.error_kind})" for a in skipped)
            notice(f"answered by {result.model} after falling back from {why}")
        if result.finish_reason == "length":
            limit = self.options.get("max_tokens")
            where = f"--max-tokens {limit}" if limit else "the model's output limit"
            notice(f"the answer was cut at the token limit ({where}); raise --max-tokens for more")
        if self.stats:
            click.echo(dim(summary_line(result)), err=True)
            for note in result.notes:  # how the request was adapted (e.g. reasoning mapped)
                click.echo(dim(f"  {note}"), err=True)
