"""The curated public API: complete, importable, sorted, and cheap to import."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import typing
from typing import Any

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


def test_all_is_the_export_table_and_each_name_comes_from_its_module() -> None:
    # __all__ is written out for type checkers; it must be exactly the lazy table's names.
    assert poe_mcp.__all__ == sorted([*poe_mcp._EXPORTS, "__version__"])
    for name, module in poe_mcp._EXPORTS.items():
        defining = importlib.import_module(f"poe_mcp.{module}")
        assert getattr(poe_mcp, name) is getattr(defining, name), name


def _poe_classes(annotation: Any) -> set[type]:
    """The poe_mcp classes an annotation names, however nested (unions, generics, Unpack)."""
    found: set[type] = set()
    if isinstance(annotation, type) and annotation.__module__.startswith("poe_mcp"):
        found.add(annotation)
    for arg in typing.get_args(annotation):
        found |= _poe_classes(arg)
    return found


# The public submodules the package docstring names (annotations may use their names).
_PUBLIC_MODULES = (
    "agent", "backends", "budget", "catalog", "client", "config", "conversation", "errors",
    "media", "multi", "orchestra", "ratelimit", "store", "structured", "tools", "types",
)  # fmt: skip


def _public_namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for module in _PUBLIC_MODULES:
        loaded = importlib.import_module(f"poe_mcp.{module}")
        namespace.update((k, v) for k, v in vars(loaded).items() if not k.startswith("_"))
    namespace.update((name, getattr(poe_mcp, name)) for name in poe_mcp._EXPORTS)
    return namespace


def _needed_by(obj: Any) -> set[type]:
    """The poe_mcp classes a public callable's parameters and result are typed with."""
    if (not inspect.isclass(obj) and not inspect.isfunction(obj)) or typing.is_typeddict(obj):
        return set()  # type aliases and TypedDicts: nothing to construct
    target = obj.__init__ if inspect.isclass(obj) else obj
    hints = typing.get_type_hints(target, localns=_public_namespace(), include_extras=True)
    return set().union(*map(_poe_classes, hints.values())) - {obj}


def test_every_class_a_public_constructor_or_function_needs_is_exported() -> None:
    public = set(poe_mcp.__all__)
    missing: dict[str, set[str]] = {}
    for name in poe_mcp._EXPORTS:
        for needed in _needed_by(getattr(poe_mcp, name)):
            if needed.__name__.startswith("_"):
                continue
            if needed.__name__ not in public:
                missing.setdefault(name, set()).add(f"{needed.__module__}.{needed.__name__}")
    assert missing == {}
