"""Writing ``config.toml`` and ``credentials.toml`` from the settings page.

``config.toml`` is edited with tomlkit (the user's comments and layout stay), validated whole by
the same check ``Settings.load`` runs (:func:`~poe_mcp._config_schema.check_config_file`) before
anything is written, and replaced atomically. ``credentials.toml`` gets one provider's
``api_key`` and is written with mode 0600 (only the owner may read it), never echoed back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InvalidRequestError
from ._inputs import check_api_key

__all__ = ["restore", "store_api_key", "update_config"]

KeyPath = tuple[str, ...]


def _load(path: Path) -> tuple[str, Any]:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        return text, tomlkit.parse(text)
    except (OSError, TOMLKitError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; fix it by hand, then save again") from exc


def _set(document: Any, keys: KeyPath, value: Any) -> None:
    import tomlkit

    *tables, key = keys
    target = document
    for name in tables:
        if name not in target:
            target[name] = tomlkit.table()
        target = target[name]
    if value is None:
        if key in target:
            del target[key]
        return
    if key in target:
        target[key] = value
        return
    if target is document:
        # A new top-level key must come before the first table, or TOML reads it into it.
        body = document.body
        first_table = next(
            (i for i, (_, item) in enumerate(body) if isinstance(item, tomlkit.items.Table)),
            len(body),
        )
        body.insert(first_table, (tomlkit.key(key), tomlkit.item(value)))
    else:
        target[key] = value


def _drop_empty_tables(document: Any, names: set[str]) -> None:
    for name in names:
        table = document.get(name)
        if table is not None and hasattr(table, "keys") and not list(table.keys()):
            del document[name]


def _write(path: Path, text: str, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(tmp, flags, 0o600 if mode is None else mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc


def update_config(path: Path, changes: Mapping[KeyPath, Any]) -> str:
    """Apply ``changes`` (key path -> value; None removes the key) to ``config.toml``.

    Returns:
        The file's previous text (for :func:`restore` if applying the settings fails).

    Raises:
        ConfigError: the file does not parse, or the result is not a valid configuration
            (every problem listed, as ``Settings.load`` words them); nothing is written then.
    """
    import tomlkit

    from .._config_schema import check_config_file

    old_text, document = _load(path)
    for keys, value in changes.items():
        _set(document, keys, value)
    _drop_empty_tables(document, {keys[0] for keys in changes if len(keys) > 1})
    document = tomlkit.parse(tomlkit.dumps(document))  # re-index reordered top-level keys
    check_config_file(document.unwrap(), path)
    mode = (path.stat().st_mode & 0o777) if path.exists() else 0o644
    _write(path, tomlkit.dumps(document), mode)
    return old_text


def restore(path: Path, text: str) -> None:
    """Put back the text :func:`update_config` returned (an empty one removes the file)."""
    if not text:
        path.unlink(missing_ok=True)
        return
    _write(path, text, (path.stat().st_mode & 0o777) if path.exists() else 0o644)


def store_api_key(config_dir: Path, provider: str, key: str) -> Path:
    """Save ``provider``'s key in ``credentials.toml`` (mode 0600); returns the file's path.

    Raises:
        ConfigError: an empty key, or the file cannot be read or written.
    """
    import tomlkit

    from .._logging import register_secret

    key = key.strip()
    if not key:
        raise ConfigError("the API key is empty")
    if any(c.isspace() for c in key) or len(key) > 4096:
        raise ConfigError("an API key has no spaces or line breaks (and is shorter than 4 KB)")
    try:
        check_api_key(key)  # what an HTTP header can carry: no control or non-ASCII characters
    except InvalidRequestError as exc:
        raise ConfigError(exc.message) from None
    register_secret(key)
    path = config_dir / "credentials.toml"
    _, document = _load(path)
    section = provider if provider in ("poe", "openai", "compatible") else "poe"
    if section not in document:
        document[section] = tomlkit.table()
    document[section]["api_key"] = key
    _write(path, tomlkit.dumps(document), 0o600)
    return path
