"""The built-in Poe simulator: a local, deterministic, fault-injectable copy of Poe's API.

Use it from tests and demos::

    from poe_mcp.simulator import Simulator

    with Simulator() as sim:
        client = OpenAI(api_key="any-key", base_url=sim.base_url, max_retries=0)

Conventions: any non-empty key works except keys starting with ``invalid`` (401) and ``broke``
(0 points, 402); replies quote the last user message and state how many messages arrived.

Public API (the names below; every module is private): :class:`Simulator`; scripted faults,
:class:`Fault` and ``FAULT_KINDS``, and the names of the wire quirks, ``QUIRKS`` (``THINKING`` and
``SEPARATORS`` are the texts two of them add); :class:`SimState`, the state a simulator shares
between its endpoints (inject a clock to test rate windows); ``CATALOG``, the simulated models
(:class:`ModelSpec`); ``make_png``, ``make_mp4``, ``make_wav`` and ``make_mp3``, the real media
files the media bots make; ``schema_instance``, the JSON a model answers for a JSON Schema.

The modules, by protocol (REST ``/v1/...``, the bot protocol ``/bot/<name>`` with its upload
endpoint, or shared) and role:

======== ========================== ===========================================================
protocol module                     role
======== ========================== ===========================================================
shared   ``_runner.py``             runner: :class:`Simulator`, the app served in a thread or
                                    in front, and its in-process helpers
shared   ``_app.py``                ASGI app: every route; models, account, files, ``/sim/``
shared   ``_state.py``              state: keys' points, rate windows, faults, request log
shared   ``_catalog.py``            catalog: the simulated models and their bot parameters
shared   ``_faults.py``             faults: what ``/sim/faults`` queues
shared   ``_quirks.py``             faults: other providers' wire shapes (REST and bot)
shared   ``_wire.py``               wire plumbing: error bodies, raw and cut bodies, dropped
                                    sockets, the simulator header
shared   ``_replies.py``            replies: what a model answers, for both protocols
shared   ``_replies_multi.py``      replies: panels, syntheses, reasoning, prompt caching
shared   ``_replies_orchestra.py``  replies: the tiers of ``poe_mcp.orchestra``
shared   ``_replies_structured.py`` replies: JSON that validates the schema asked for
shared   ``_replies_media.py``      replies: PNG, MP4, WAV and MP3 files of the media bots
REST     ``_rest_chat.py``          endpoint: ``POST /v1/chat/completions``, the intake and
                                    admission checks shared with ``/v1/responses``
REST     ``_rest_responses.py``     endpoint: ``POST /v1/responses``
REST     ``_rest_openai.py``        OpenAI mode: OpenAI's models, ids, keys and error bodies
bot      ``_bot_endpoint.py``       endpoint: ``POST /bot/<name>``, Poe's checks before the bot
bot      ``_bot_handler.py``        replies: the ``fastapi_poe`` bot and its events
bot      ``_bot_upload.py``         endpoint: ``POST /poe_api/file_upload_3RD_PARTY_POST``
======== ========================== ===========================================================
"""

from __future__ import annotations

from ._catalog import CATALOG, ModelSpec
from ._faults import FAULT_KINDS, Fault
from ._quirks import QUIRKS, SEPARATORS, THINKING
from ._replies_media import make_mp3, make_mp4, make_png, make_wav
from ._replies_structured import schema_instance
from ._runner import Simulator
from ._state import SimState

__all__ = [
    "CATALOG",
    "FAULT_KINDS",
    "QUIRKS",
    "SEPARATORS",
    "THINKING",
    "Fault",
    "ModelSpec",
    "SimState",
    "Simulator",
    "make_mp3",
    "make_mp4",
    "make_png",
    "make_wav",
    "schema_instance",
]
