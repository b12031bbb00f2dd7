"""Model ids that name the same model: dated snapshots and moving aliases.

Providers answer with another id than the one asked for: OpenAI answers ``gpt-4o`` with
``gpt-4o-2024-08-06``, Anthropic ``claude-3-5-sonnet-latest`` with
``claude-3-5-sonnet-20241022``, Vertex writes ``claude-3-5-sonnet@20240620``, others add
``-preview`` or ``-0613``. Price lists usually know one spelling only, so a call is priced by the
requested model when the answered id is a snapshot or alias of it (:func:`same_model`); an id
that is another model altogether is never priced as the requested one.
"""

from __future__ import annotations

import re

__all__ = ["model_family", "same_model"]

# One trailing version marker: a date (2024-08-06, 20241022, 2411, 0613, 002), a moving alias
# (latest, preview, exp), a Bedrock-style revision (v1, v2:0), after "-" or "@"; Gemini's dated
# previews (preview-05-20); Ollama's default tag (":latest"; other tags are other weights).
_SUFFIX = re.compile(
    r"([-@](\d{4}-\d{2}-\d{2}|\d{8}|\d{6}|\d{4}|\d{3}|latest|preview|exp|experimental"
    r"|v\d+(:\d+)?|(preview|exp)-\d{2}-\d{2})|:latest)$",
    re.IGNORECASE,
)


def model_family(model_id: str) -> str:
    """The id without its snapshot and alias suffixes, lower case (``gpt-4o-2024-08-06`` ->
    ``gpt-4o``, ``o1-preview-2024-09-12`` -> ``o1``)."""
    name = model_id.strip().lower()
    while True:
        shorter = _SUFFIX.sub("", name)
        if shorter == name or not shorter:
            return name
        name = shorter


def same_model(answered: str, requested: str) -> bool:
    """Whether ``answered`` is ``requested`` itself, a snapshot of it or an alias of it.

    A namespace only one of the two spells out is ignored: Gemini answers ``gemini-2.0-flash``
    as ``models/gemini-2.0-flash``, routers answer ``openai/gpt-4o`` as ``gpt-4o-...``.
    """
    a, r = answered.strip().lower(), requested.strip().lower()
    if a == r:
        return True
    if ("/" in a) != ("/" in r):
        a, r = a.rpartition("/")[2], r.rpartition("/")[2]
    return model_family(a) == model_family(r)
