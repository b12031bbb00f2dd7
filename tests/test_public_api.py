"""The curated public API: complete, importable, sorted, and cheap to import."""

from __future__ import annotations

import subprocess
import sys

import poe_mcp


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert poe_mcp.__all__ == sorted(poe_mcp.__all__)
    for name in poe_mcp.__all__:
        assert getattr(poe_mcp, name) is not None, name


def test_every_error_class_is_public() -> None:
    from poe_mcp import errors

    public = set(poe_mcp.__all__)
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, errors.PoeError):
            assert name in public, f"{name} is missing from poe_mcp.__all__"


def test_import_does_not_pull_heavy_sdks() -> None:
    # `poe-mcp serve` is spawned per assistant session: the package import must stay light.
    code = (
        "import sys, poe_mcp; "
        "heavy = [m for m in ('openai', 'fastapi_poe', 'mcp', 'redis', 'uvicorn') "
        "if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_all_matches_the_lazy_export_table() -> None:
    assert set(poe_mcp.__all__) == {*poe_mcp._EXPORTS, "__version__"}
