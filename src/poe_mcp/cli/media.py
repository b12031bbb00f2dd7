"""``poe-mcp image|video|audio``: make a file with a Poe media bot and print where it was saved.

Thin over :func:`poe_mcp.media.generate_media`. Progress goes to stderr (one updating line on a
terminal, a line per report otherwise); stdout holds only the saved paths, or the JSON result, so
``open "$(poe-mcp image 'a red fox')"`` works.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from .. import _constants as C
from .._events import ClientEvent
from .._money import format_usd
from ..types import MediaKind
from ._options import param_option, parse_params
from .chat import read_stdin

__all__ = ["audio", "image", "video"]

_EXAMPLES: dict[str, str] = {
    "image": 'poe-mcp image "a red fox in the snow" -p aspect=16:9 -o ./pictures',
    "video": 'poe-mcp video "waves at dusk" -p duration=5 -p aspect=9:16',
    "audio": 'poe-mcp audio "Hello from Poe" -p voice=Adam -p format=wav',
}
_WHAT: dict[str, str] = {"image": "an image", "video": "a video", "audio": "audio"}
_DEFAULTS: dict[str, str] = {
    "image": C.DEFAULT_IMAGE_MODEL,
    "video": C.DEFAULT_VIDEO_MODEL,
    "audio": C.DEFAULT_AUDIO_MODEL,
}


class _Display:
    """Progress on stderr: an updating line on a terminal, plain lines when redirected."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.open_line = False

    def __call__(self, elapsed: float, message: str) -> None:
        if self.quiet:
            return
        text = f"[{elapsed:5.1f} s] {message}"
        if self.tty:
            click.echo(f"\r\033[K{text}", err=True, nl=False)
            self.open_line = True
        else:
            click.echo(text, err=True)

    def event(self, event: ClientEvent) -> None:
        """A wait or a retry of the client: its own line, even without -v."""
        if self.open_line:
            click.echo("", err=True)
            self.open_line = False
        click.echo(f"poe-mcp: {event.message}", err=True)

    def close(self) -> None:
        if self.open_line:
            click.echo("", err=True)
            self.open_line = False


async def _run(kind: MediaKind, prompt: str, options: dict[str, Any], quiet: bool) -> None:
    from ..client import AsyncPoeClient
    from ..config import Settings
    from ..media import generate_media

    settings = Settings.load(provider=options.pop("provider"), base_url=options.pop("base_url"))
    as_json = options.pop("as_json")
    open_it = options.pop("open_it")
    display = _Display(quiet)
    try:
        async with AsyncPoeClient(
            settings=settings, entry_point="cli", on_event=None if quiet else display.event
        ) as client:
            result = await generate_media(client, kind, prompt, on_progress=display, **options)
    finally:
        display.close()
    if open_it and (result.paths or result.urls):
        _open(result.paths[0] if result.paths else result.urls[0])
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    for line in result.paths or result.urls:
        click.echo(line)
    if not quiet:
        cost = format_usd(result.cost)
        click.echo(f"{result.model} · {result.media_type} · cost {cost}", err=True)


def _open(target: str) -> None:
    """Show the file in the system's viewer (xdg-open, open, start); say so when none works."""
    from ._term import notice

    try:
        code = click.launch(target)
    except OSError as exc:  # no opener installed
        code, reason = 1, exc.strerror
    else:
        reason = f"exit status {code}"
    if code != 0:
        notice(f"could not open {target} ({reason})")


def _command(kind: MediaKind) -> click.Command:
    @click.command(
        name=kind,
        help=f"Make {_WHAT[kind]} with a Poe {kind} bot and print the saved file's path. "
        f"PROMPT '-' reads standard input.\n\n\b\nExample:\n  {_EXAMPLES[kind]}",
    )
    @click.argument("prompt")
    @click.option("-m", "--model", help=f"The bot [default: {_DEFAULTS[kind]}; config [media]].")
    @param_option
    @click.option(
        "-o",
        "--output-dir",
        type=click.Path(file_okay=False, path_type=str),
        help="Directory to save into [default: <data dir>/media].",
    )
    @click.option("--no-download", is_flag=True, help="Print the URL only; save nothing.")
    @click.option("--max-bytes", type=click.IntRange(min=1), help="Refuse larger files.")
    @click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds.")
    @click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
    @click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
    @click.option(
        "--open", "open_it", is_flag=True, help="Open the saved file in the system's viewer."
    )
    @click.option(
        "--backend", type=click.Choice(["openai", "legacy"]), help="REST API or bot protocol."
    )
    @click.option("--provider", type=click.Choice(["poe", "openai", "compatible"]))
    @click.option("--base-url", help="API base URL (e.g. a simulator's http://127.0.0.1:8787/v1).")
    def command(
        prompt: str,
        model: str | None,
        params: tuple[str, ...],
        output_dir: str | None,
        no_download: bool,
        max_bytes: int | None,
        timeout: float | None,
        as_json: bool,
        quiet: bool,
        open_it: bool,
        backend: str | None,
        provider: str | None,
        base_url: str | None,
    ) -> None:
        if prompt == "-":
            prompt = read_stdin()
        options: dict[str, Any] = {
            "model": model,
            "params": parse_params(params) or None,
            "output_dir": output_dir,
            "download": not no_download,
            "max_bytes": max_bytes,
            "timeout": timeout,
            "as_json": as_json,
            "open_it": open_it,
            "backend": backend,
            "provider": provider,
            "base_url": base_url,
        }
        asyncio.run(_run(kind, prompt, options, quiet))

    return command


image = _command("image")
video = _command("video")
audio = _command("audio")
