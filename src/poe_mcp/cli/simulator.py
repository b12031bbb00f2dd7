"""``poe-mcp simulator``: run the built-in Poe simulator in the foreground."""

from __future__ import annotations

import contextlib

import click

from .. import _constants as C
from ._options import shown_defaults

_HELP = f"""Run a local, offline copy of Poe's API (deterministic, fault-injectable).

\b
Point any OpenAI client at it (any key works; keys starting with
"invalid" get 401, keys starting with "broke" have 0 points and get 402):
  export OPENAI_BASE_URL=http://127.0.0.1:{C.SIMULATOR_PORT}/v1
  export OPENAI_API_KEY=test-key
  python -c "from openai import OpenAI; print(OpenAI().chat.completions.create(
      model='Claude-Sonnet-4', messages=[{{'role':'user','content':'hi'}}]))"
or poe-mcp itself:  POE_BASE_URL=http://127.0.0.1:{C.SIMULATOR_PORT}/v1 POE_API_KEY=test-key

\b
Endpoints: /v1/models, /v1/chat/completions, /v1/responses, /usage/current_balance,
/usage/points_history, /bot/<name> (bot protocol), /poe_api/ (uploads),
/media/<file>; test hooks (loopback only): POST|DELETE /sim/faults,
GET /sim/requests, POST /sim/reset.
"""


@click.command("simulator", help=_HELP)
@shown_defaults(
    ("--host", C.SIMULATOR_HOST, None,
     "Interface to listen on. The /sim/ test hooks answer loopback clients only."),
    ("--port", C.SIMULATOR_PORT, click.IntRange(0, 65535), "TCP port (0 picks a free one)."),
    ("--rpm", C.POE_RPM, click.IntRange(min=1),
     "Requests per minute allowed per key before 429 rate_limit_error (Poe: 500)."),
    ("--latency-ms", 0.0, click.FloatRange(min=0),
     "Delay added to every API answer, in milliseconds."),
    ("--media-delay-s", C.SIM_CLI_MEDIA_DELAY_S, click.FloatRange(min=0),
     "How long image, video and audio bots take to answer, in seconds."),
    ("--points", C.SIM_INITIAL_POINTS, click.IntRange(min=0),
     "Starting point balance of every key (keys starting with 'broke' start at 0)."),
    ("--provider", "poe", click.Choice(list(C.SIM_PROVIDERS)),
     "Whose API to play. openai: OpenAI's plain model list (chat and non-chat models), "
     "dated model ids in answers, OpenAI's error bodies and codes ('broke' keys get 429 "
     "insufficient_quota)."),
)  # fmt: skip
def simulator(
    host: str,
    port: int,
    rpm: int,
    latency_ms: float,
    media_delay_s: float,
    points: int,
    provider: str,
) -> None:
    """Run the simulator until interrupted (``poe-mcp simulator``; the help is ``_HELP``)."""
    from ..simulator import Simulator

    sim = Simulator(
        host,
        port,
        rpm=rpm,
        latency_ms=latency_ms,
        media_delay_s=media_delay_s,
        initial_points=points,
        provider=provider,
    )

    def ready() -> None:
        if provider == "openai":
            click.echo(
                f"OpenAI simulator listening on {sim.url}\n"
                f"  OpenAI clients: base_url={sim.base_url}  api_key=<any, e.g. test-key>\n"
                f"  poe-mcp:        --provider openai --base-url {sim.base_url} "
                "(OPENAI_API_KEY=test-key)\n"
                f"  rpm={rpm}, latency {latency_ms:g} ms. Ctrl-C stops."
            )
            return
        click.echo(
            f"Poe simulator listening on {sim.url}\n"
            f"  OpenAI clients: base_url={sim.base_url}  api_key=<any, e.g. test-key>\n"
            f"  poe-mcp:        POE_BASE_URL={sim.base_url} POE_API_KEY=test-key\n"
            f"  bot protocol:   {sim.bot_base_url}   uploads: {sim.upload_base_url}\n"
            f"  rpm={rpm}, latency {latency_ms:g} ms, media delay {media_delay_s:g} s. "
            "Ctrl-C stops."
        )

    with contextlib.suppress(KeyboardInterrupt):
        sim.run(on_ready=ready)
