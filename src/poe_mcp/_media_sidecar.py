"""Saved media that explain themselves: a slug of the prompt in the name, a JSON sidecar.

``a-lighthouse-at-dawn-GPT-Image-1-20260131-101500-1a2b3c4d.png`` sits next to
``...png.json`` holding the prompt, the model, the bot parameters, the cost and the source URL,
so a folder of generated files can be searched and reproduced without the usage ledger.
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import _constants as C

__all__ = ["label_files", "slug"]

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slug(prompt: str, limit: int = C.MEDIA_SLUG_CHARS) -> str:
    """``"A lighthouse at dawn!"`` -> ``a-lighthouse-at-dawn`` (ASCII, at most ``limit`` chars)."""
    ascii_text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()
    words = _NON_WORD.sub("-", ascii_text.lower()).strip("-")
    if len(words) > limit:
        words = words[:limit].rsplit("-", 1)[0] if "-" in words[:limit] else words[:limit]
    return words.strip("-") or "media"


def label_files(
    paths: Sequence[Path],
    *,
    prompt: str,
    model: str,
    kind: str,
    params: Mapping[str, Any],
    cost: float | None,
    urls: Sequence[str],
) -> list[Path]:
    """Prefix each saved file with the prompt's slug and write its sidecar; the new paths.

    A key pasted into the prompt reaches neither the name nor the sidecar (redacted first).
    """
    from ._redact import redact

    prompt = redact(prompt)
    prefix = slug(prompt)
    out: list[Path] = []
    for path, url in zip(paths, urls, strict=False):
        final = path.with_name(f"{prefix}-{path.name}")
        os.replace(path, final)
        sidecar = {
            "prompt": prompt,
            "model": model,
            "kind": kind,
            "parameters": dict(params),
            "cost_usd": cost,
            "source_url": url if not url.startswith("data:") else None,
            "file": final.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        final.with_name(final.name + ".json").write_text(
            json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        out.append(final)
    return out
