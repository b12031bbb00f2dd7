"""``poe-mcp orchestrate``: run a goal through the four tiers, with a live view of its tickets."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._money import format_usd
from ._options import shown_defaults

if TYPE_CHECKING:
    from ..orchestra import Approval, RunEvent, RunState

__all__ = ["orchestrate"]

_MARK = {
    "ticket_started": ("…", "cyan"),
    "ticket_completed": ("✓", "green"),
    "ticket_failed": ("✗", "yellow"),
    "finding": ("QA", "magenta"),
    "escalated": ("↑", "magenta"),
    "ticket_blocked": ("■", "red"),
    "tool_refused": ("!", "red"),
}


def _parse_tiers(values: tuple[str, ...]) -> dict[str, str]:
    tiers: dict[str, str] = {}
    for value in values:
        key, sep, model = value.partition("=")
        if not sep or not key.strip() or not model.strip():
            raise click.BadParameter(
                f"expected TIER=MODEL (e.g. 3=GPT-4.1 or 3=openai:gpt-4o-mini), got {value!r}",
                param_hint="--tier",
            )
        tiers[key.strip()] = model.strip()
    return tiers


@click.command()
@click.argument("goal", required=False)
@click.option(
    "--tier",
    "tiers",
    multiple=True,
    metavar="TIER=MODEL",
    help="Model of a tier: 1 orchestrator, 2 tech lead, 3 worker, 4 QA, or escalation; "
    "MODEL or PROVIDER:MODEL (repeatable). Default: [tiers] in config.toml, then built-ins.",
)
@click.option(
    "--outline",
    type=click.Path(exists=True, dir_okay=False),
    help="A file with the project outline (file tree, rules) tier 1 reads with the goal.",
)
@click.option(
    "--step",
    is_flag=True,
    help="Ask before each ticket and each call of a tool that changes things "
    "(run_command, write_file).",
)
@click.option(
    "--resume",
    "resume_id",
    metavar="RUN_ID",
    help="Continue a stored run (--tier and the bounds given now apply to it).",
)
@click.option("--list", "list_runs", is_flag=True, help="List stored runs and exit.")
@click.option("--show", "show_id", metavar="RUN_ID", help="Print a stored run's state and exit.")
@shown_defaults(
    ("--concurrency", 4, click.IntRange(1, 64), "Tickets worked on at once."),
    ("--max-tracks", 8, click.IntRange(1, 100),
     "A plan with more tracks stops the run before any ticket runs."),
    ("--max-tickets", 40, click.IntRange(1, 500),
     "A plan with more tickets stops the run before any ticket runs."),
    ("--max-retries", 2, click.IntRange(0, 10),
     "Worker retries (with a QA finding) before escalating."),
)  # fmt: skip
@click.option(
    "--budget-usd",
    type=click.FloatRange(min=0, min_open=True),
    help="No new work starts once the run has cost this much (USD, known prices).",
)
@click.option(
    "--budget-tokens",
    type=click.IntRange(min=1),
    help="No new work starts once the run has used this many tokens.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final state as JSON.")
@click.option("--provider", type=click.Choice(["poe", "openai", "compatible"]), help="Provider.")
@click.option("--base-url", help="API base URL (e.g. a simulator's http://127.0.0.1:8787/v1).")
@click.pass_context
def orchestrate(
    ctx: click.Context,
    goal: str | None,
    tiers: tuple[str, ...],
    outline: str | None,
    step: bool,
    resume_id: str | None,
    list_runs: bool,
    show_id: str | None,
    concurrency: int,
    max_tracks: int,
    max_tickets: int,
    max_retries: int,
    budget_usd: float | None,
    budget_tokens: int | None,
    as_json: bool,
    provider: str | None,
    base_url: str | None,
) -> None:
    """Plan GOAL with tier 1, break it down with tier 2, work it with tier 3, check with tier 4.

    Runs are stored (resume one with --resume after a crash or Ctrl-C) and every call's cost is
    in `poe-mcp usage --by tier`. Workers get the tools of [tools] in config.toml; tools that
    change things run only when enabled there, and with --step only once you approve each call.

    \b
    Examples:
      poe-mcp orchestrate "Write a tokenizer. Add a CLI. Document both."
      poe-mcp orchestrate "..." --tier 1=Claude-Opus-4.1 --tier 3=openai:gpt-4o-mini
      poe-mcp orchestrate --resume run-1a2b3c4d5e6f
    """
    if sum(bool(x) for x in (goal, resume_id, list_runs, show_id)) != 1:
        raise click.UsageError("give a GOAL, or one of --resume RUN_ID, --list, --show RUN_ID")
    _refuse_unused(ctx, "--list" if list_runs else "--show" if show_id else None, resume_id)
    options = {
        "tiers": _parse_tiers(tiers),
        "concurrency": concurrency,
        "max_tracks": max_tracks,
        "max_tickets": max_tickets,
        "max_retries": max_retries,
        "budget_usd": budget_usd,
        "budget_tokens": budget_tokens,
        "step": step,
    }
    outline_text = Path(outline).read_text(encoding="utf-8") if outline else None
    seen: dict[str, str] = {}  # the run's id, once it is stored
    try:
        code = asyncio.run(
            _run(
                goal,
                outline_text,
                resume_id=resume_id,
                list_runs=list_runs,
                show_id=show_id,
                options=options,
                as_json=as_json,
                client_args={"provider": provider, "base_url": base_url},
                seen=seen,
            )
        )
    except KeyboardInterrupt:
        run_id = seen.get("run_id")
        click.echo(err=True)  # off the ^C and any unanswered prompt's line
        if run_id:
            click.echo(
                f"interrupted: run {run_id} is saved (cancelled); continue it with "
                f"`poe-mcp orchestrate --resume {run_id}`",
                err=True,
            )
        else:
            click.echo("interrupted before the run started; nothing was saved", err=True)
        sys.exit(130)
    sys.exit(code)


# Options that only matter to a run: refused with --list / --show (and --outline with --resume,
# since the outline is part of the stored run) rather than silently ignored.
_RUN_OPTIONS = (
    "tiers",
    "outline",
    "step",
    "concurrency",
    "max_tracks",
    "max_tickets",
    "max_retries",
    "budget_usd",
    "budget_tokens",
)


def _refuse_unused(ctx: click.Context, listing: str | None, resume_id: str | None) -> None:
    given = [
        name
        for name in _RUN_OPTIONS
        if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    ]
    flag = {"tiers": "--tier"}
    if listing and given:
        names = ", ".join(flag.get(n, "--" + n.replace("_", "-")) for n in given)
        raise click.UsageError(f"{listing} runs nothing, so {names} would have no effect")
    if resume_id and "outline" in given:
        raise click.UsageError("--outline is part of the stored run: --resume keeps its own")


async def _run(
    goal: str | None,
    outline: str | None,
    *,
    resume_id: str | None,
    list_runs: bool,
    show_id: str | None,
    options: dict[str, Any],
    as_json: bool,
    client_args: dict[str, Any],
    seen: dict[str, str],
) -> int:
    from .._paths import denied_paths
    from ..client import AsyncPoeClient
    from ..config import Settings
    from ..errors import NotFoundError, PoeError
    from ..orchestra import Orchestrator, RunState
    from ..store import open_store
    from ..tools._builtin import builtin_tools_from_config

    settings = Settings.load(**client_args)
    store = open_store(settings.store_url)
    try:
        if list_runs:
            _print_runs(await store.runs.list(), as_json)
            return 0
        if show_id:
            doc = await store.runs.get(show_id)
            if doc is None:
                raise NotFoundError(f"no orchestration run {show_id!r} in {store.url}")
            _print_final(RunState.model_validate(doc), as_json)
            return 0
        interactive = options["step"] and sys.stdin.isatty()
        if options["step"] and not interactive:
            click.echo(
                "step mode without a terminal: tools that change things will be refused",
                err=True,
            )

        def on_event(event: RunEvent) -> None:
            seen.setdefault("run_id", event.run_id)
            if not as_json:
                _show(event)

        async with AsyncPoeClient(settings=settings, store=store, entry_point="cli") as client:
            orch = Orchestrator(
                client,
                tools=builtin_tools_from_config(
                    settings.section("tools"), denied=denied_paths(settings)
                ),
                approver=_ask if interactive else None,
                on_event=on_event,
                store=store,
                **options,
            )
            try:
                state = await (orch.resume(resume_id) if resume_id else orch.run(goal or ""))
            except PoeError as exc:
                if "run_id" in seen:  # the store broke mid-run: say where the work stands
                    exc.message += (
                        f" (run {seen['run_id']} keeps its last saved state; "
                        f"`poe-mcp orchestrate --resume {seen['run_id']}` continues it)"
                    )
                raise
            finally:
                await orch.aclose()
        _print_final(state, as_json)
        return 0 if state.status == "completed" else 1
    finally:
        await store.aclose()


async def _ask(question: Approval) -> bool:
    """A y/N question on the terminal; no answer (end of input) is a refusal."""
    prompt = f"[{question.ticket_id}] {question.text} — allow? [y/N]: "
    while True:
        click.echo(prompt, nl=False, err=True)
        line = await _read_line()
        if line is None:
            click.echo(err=True)
            return False
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        click.echo("Error: answer y or n", err=True)


async def _read_line() -> str | None:
    """One line of the terminal, read by the event loop itself.

    Not in a thread: a thread blocked reading stdin keeps ``asyncio.run`` from returning after
    Ctrl-C (an executor thread) or aborts the interpreter at exit (a daemon thread holding
    stdin's lock). Waiting on the file descriptor is cancelled like any other await.
    """
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    ready: asyncio.Future[None] = loop.create_future()
    try:
        loop.add_reader(fd, lambda: None if ready.done() else ready.set_result(None))
    except NotImplementedError:  # an event loop without readers (Windows' proactor)
        text = await asyncio.to_thread(sys.stdin.readline)
        return text or None
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    data = os.read(fd, 4096)
    return data.decode(errors="replace") if data else None


def _show(event: RunEvent) -> None:
    mark, colour = _MARK.get(event.kind, ("·", "blue"))
    who = f"[{event.ticket_id}] " if event.ticket_id else ""
    tier = f"tier {event.tier} " if event.tier else ""
    flat = " ".join(event.message.split())  # one line per event, even for multi-line output
    text = flat if len(flat) <= 160 else flat[:157] + "..."
    line = f"{click.style(mark, fg=colour)} {tier}{who}{text}  ({format_usd(event.cost)})"
    click.echo(line, err=True)


def _print_runs(infos: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(i) for i in infos]))
        return
    if not infos:
        click.echo("no stored runs")
        return
    for info in infos:
        click.echo(f"{info.id}  {info.status:<10} {info.goal[:70]}")


def _print_final(state: RunState, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(state.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    click.echo("\n".join(state.report_lines()))
