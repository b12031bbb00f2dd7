"""``poe-mcp compare``: one prompt to several models at once, side by side (thin, over multi).

With ``--consensus`` (or ``--synthesizer`` / ``--stance``) the panel's answers go to a
synthesizer model whose verdict names where they agree and disagree. On a terminal the answers
are drawn with ``rich`` in one column per model; otherwise as plain text columns (one block per
model when the columns would be too narrow); ``--json`` prints everything as JSON.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import click

from .. import _constants as C
from .._money import format_usd
from ._options import attach_option, param_option, parse_params
from .chat import read_stdin

if TYPE_CHECKING:
    from ..multi import Comparison, Consensus, ModelAnswer

__all__ = ["compare", "parse_effort", "render_columns", "render_rich"]

_STANCES = ("for", "against", "neutral")


def parse_effort(value: str | None) -> str | int | None:
    """``--reasoning``: ``low``/``medium``/``high`` or a token budget."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("low", "medium", "high"):
        return text
    if text.isdigit():
        return int(text)
    raise click.BadParameter(
        f"{value!r}: use low, medium, high or a token budget (e.g. 4096)", param_hint="--reasoning"
    )


def _facts(answer: ModelAnswer) -> str:
    if answer.error is not None:
        return f"FAILED ({answer.error.kind})"
    usage = answer.usage
    extra = f", {usage.reasoning_tokens} reasoning" if usage.reasoning_tokens else ""
    return (
        f"{usage.input_tokens} in / {usage.output_tokens} out{extra} · "
        f"{format_usd(answer.cost)} · {answer.latency_s:.2f}s"
    )


def _body(answer: ModelAnswer) -> str:
    from ._term import visible

    if answer.error is not None:
        return visible(answer.error.message)
    return visible(answer.text.strip())  # escape sequences in an answer are shown, not obeyed


def _title(answer: ModelAnswer) -> str:
    return f"{answer.model} [{answer.stance}]" if answer.stance else answer.model


def render_columns(table: Comparison, width: int) -> str:
    """The answers as plain-text columns, or one block per model when columns would be narrow."""
    n = len(table.answers)
    sep = " | "
    column = (width - len(sep) * (n - 1)) // max(n, 1)
    if n == 1 or column < C.COMPARE_COLUMN_MIN_CHARS:
        blocks = [f"== {_title(a)} ({_facts(a)})\n{_body(a)}" for a in table.answers]
        return "\n\n".join(blocks)
    heads = [
        textwrap.wrap(_title(a), column) + textwrap.wrap(_facts(a), column) for a in table.answers
    ]
    tall = max(len(h) for h in heads)
    cells: list[list[str]] = []
    for answer, head in zip(table.answers, heads, strict=True):
        lines = [*head, *([""] * (tall - len(head))), "-" * column]
        for paragraph in _body(answer).splitlines() or [""]:
            lines += textwrap.wrap(paragraph, column) or [""]
        cells.append(lines)
    height = max(len(c) for c in cells)
    rows = []
    for i in range(height):
        row = [(c[i] if i < len(c) else "").ljust(column) for c in cells]
        rows.append(sep.join(row).rstrip())
    return "\n".join(rows)


def render_rich(table: Comparison, console: Any = None) -> None:
    """The answers as a ``rich`` table, one column per model (on a terminal)."""
    from rich.console import Console
    from rich.table import Table

    grid = Table(show_lines=False, expand=True)
    for answer in table.answers:
        style = "red" if answer.error is not None else None
        grid.add_column(f"{_title(answer)}\n{_facts(answer)}", header_style=style, ratio=1)
    grid.add_row(*[_body(a) for a in table.answers])
    (console or Console()).print(grid)


def _summary(table: Comparison) -> str:
    failed = f"; {len(table.failed)} failed" if table.failed else ""
    return (
        f"{len(table.answers)} models in {table.wall_s:.2f} s; total {format_usd(table.cost)}"
        f"{failed}"
    )


def _print(result: Comparison | Consensus, as_json: bool, fancy: bool) -> None:
    from ..multi import Consensus
    from ._term import for_terminal

    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    panel = result.panel if isinstance(result, Consensus) else result
    if fancy:
        render_rich(panel)
    else:
        width = shutil.get_terminal_size((C.COMPARE_COLUMN_MIN_CHARS * 4, 24)).columns
        click.echo(render_columns(panel, width))
    click.echo()
    click.echo(_summary(panel))
    if isinstance(result, Consensus):
        click.echo()
        if result.verdict is not None:
            click.echo(f"Verdict by {result.synthesizer} ({_facts_of(result)}):")
            click.echo(for_terminal(result.text.strip()))
        elif result.synthesis_error is not None:
            err = result.synthesis_error
            why = for_terminal(str(err), sys.stderr)
            click.echo(f"No verdict: {result.synthesizer} failed ({err.kind}): {why}", err=True)
        click.echo(f"\nTotal with the synthesis: {format_usd(result.cost)}")


def _facts_of(result: Consensus) -> str:
    verdict = result.verdict
    assert verdict is not None
    return (
        f"{verdict.usage.input_tokens} in / {verdict.usage.output_tokens} out · "
        f"{format_usd(verdict.cost)} · {verdict.latency_s:.2f}s"
    )


@click.command()
@click.argument("prompt", required=False)
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    required=True,
    help=f"A model to ask (repeat: -m A -m B; up to {C.COMPARE_MAX_MODELS}).",
)
@click.option("-s", "--system", help="System prompt, the same for every model.")
@click.option("-t", "--temperature", type=float, help="Sampling temperature, 0..2.")
@click.option("--max-tokens", type=int, help="Longest answer per model, in tokens (>= 1).")
@param_option
@attach_option("File every model gets (repeatable).")
@click.option(
    "--reasoning",
    metavar="LEVEL|TOKENS",
    help="Reasoning effort for every model: low, medium, high or a token budget (mapped to "
    "what each model takes; a model that cannot reason fails).",
)
@click.option(
    "--consensus",
    "use_consensus",
    is_flag=True,
    help="Then have a synthesizer write a verdict naming agreement and disagreement.",
)
@click.option(
    "--synthesizer",
    metavar="MODEL",
    help="The model that writes the verdict (implies --consensus; default: the first -m).",
)
@click.option(
    "--stance",
    "stances",
    multiple=True,
    type=click.Choice(_STANCES),
    help="Stance of each -m model in order (repeat; implies --consensus; default: neutral).",
)
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option("--provider", type=click.Choice(["poe", "openai", "compatible"]), help="Provider.")
@click.option("--base-url", help="API base URL (e.g. a simulator's http://127.0.0.1:8787/v1).")
def compare(
    prompt: str | None,
    models: tuple[str, ...],
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    params: tuple[str, ...],
    attach: tuple[str, ...],
    reasoning: str | None,
    use_consensus: bool,
    synthesizer: str | None,
    stances: tuple[str, ...],
    as_json: bool,
    provider: str | None,
    base_url: str | None,
) -> None:
    """Ask several models the same PROMPT at once and show the answers side by side.

    Each answer comes with its tokens, cost and latency; a model that fails is shown as
    failed and the others still answer. PROMPT '-' (or none, with piped input) reads standard
    input. Exit status 1 when no model answered (or the verdict failed).

    \b
    Examples:
      poe-mcp compare -m Claude-Sonnet-4 -m GPT-4.1 -m Grok-4 "Explain CRDTs briefly"
      poe-mcp compare -m GPT-4.1 -m Gemini-2.5-Pro --reasoning high "Prove it" --json
      poe-mcp compare -m Claude-Sonnet-4 -m GPT-4.1 --stance for --stance against \\
          --synthesizer Claude-Opus-4.1 "Should we rewrite the service in Rust?"
    """
    if prompt in (None, "-"):
        if prompt is None and sys.stdin.isatty():
            raise click.UsageError("give a PROMPT, or pipe one on standard input")
        prompt = read_stdin()
    if len(stances) > len(models):
        raise click.UsageError("give at most one --stance per -m model")
    options: dict[str, Any] = {
        "system": system,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "extra": parse_params(params) or None,
        "attachments": list(attach) or None,
        "reasoning_effort": parse_effort(reasoning),
    }
    options = {k: v for k, v in options.items() if v is not None}
    panel = use_consensus or synthesizer is not None or bool(stances)
    result = asyncio.run(
        _run(
            prompt,
            list(models),
            options,
            consensus=panel,
            stances=list(stances) or None,
            synthesizer=synthesizer,
            client_args={"provider": provider, "base_url": base_url},
        )
    )
    fancy = not as_json and _fancy()
    _print(result, as_json, fancy)
    from ..multi import Consensus

    answered = (result.panel if isinstance(result, Consensus) else result).succeeded
    if not answered or (isinstance(result, Consensus) and not result.ok):
        sys.exit(1)


def _fancy() -> bool:
    from ._term import color_on

    if not color_on(sys.stdout):
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


async def _run(
    prompt: str,
    models: list[str],
    options: dict[str, Any],
    *,
    consensus: bool,
    stances: list[Any] | None,
    synthesizer: str | None,
    client_args: dict[str, Any],
) -> Comparison | Consensus:
    from ..client import AsyncPoeClient
    from ..config import Settings
    from ..multi import compare as ask_all
    from ..multi import consensus as ask_panel

    settings = Settings.load(**client_args)
    settings.logs  # noqa: B018 - a bad POE_MCP_LOGS is said before anything is sent
    async with AsyncPoeClient(settings=settings, entry_point="cli") as client:
        if consensus:
            return await ask_panel(
                client, prompt, models, stances=stances, synthesizer=synthesizer, **options
            )
        return await ask_all(client, prompt, models, **options)
