"""Write one top-level key of ``config.toml``, keeping the user's comments and layout (tomlkit)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["set_config_value"]


def set_config_value(path: Path, key: str, value: Any) -> None:
    """Set ``key = value`` at the top of the TOML file at ``path`` (created when missing).

    Raises:
        ConfigError: the file exists but is not valid TOML, or cannot be written.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, TOMLKitError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; fix it, then run again") from exc
    if key in document:
        document[key] = value
    else:
        # Top-level keys must come before the first table, or TOML reads them into it.
        body = document.body
        first_table = next(
            (i for i, (_, item) in enumerate(body) if isinstance(item, tomlkit.items.Table)),
            len(body),
        )
        body.insert(first_table, (tomlkit.key(key), tomlkit.item(value)))
        document = tomlkit.parse(tomlkit.dumps(document))  # re-index the reordered body
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(tomlkit.dumps(document), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
