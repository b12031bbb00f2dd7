"""Tool arguments take effect or are refused: one check in front of every MCP tool.

The SDK's ``MCPServer`` validates the arguments a tool declares and silently drops the rest, so
``{"temprature": 0.5}`` or ``{"max_completion_tokens": 5}`` used to succeed with nothing reaching
the wire. :class:`StrictTool` runs :func:`normalize_arguments` before the SDK sees a call:

- a name the tool declares passes;
- a name from the OpenAI API or an earlier Poe MCP server that *means* one of ours is mapped
  (:data:`ARGUMENT_ALIASES`: ``max_completion_tokens`` -> ``max_tokens``, ``attachment_path`` ->
  ``attachment_paths``, ...); giving both forms is refused;
- a few old value forms are converted (:data:`VALUE_FORMS`: ``thinking={"budget_tokens": N}``,
  ``stop="x"``);
- anything else is refused with "did you mean", the arguments the tool takes, and which other
  tool takes it when one does.

Every tool's input schema says ``additionalProperties: false``, so clients that read schemas
know the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import PrivateAttr

from .. import _constants as C
from .._suggest import suggest
from ..errors import InvalidRequestError
from ._guard import render_error
from ._sizes import check_arguments

if TYPE_CHECKING:
    from mcp.server.context import LifespanContextT, RequestT
    from mcp.server.mcpserver.context import Context

__all__ = [
    "ARGUMENT_ALIASES",
    "EARLIER_TOOLS",
    "UNSUPPORTED_HINTS",
    "VALUE_FORMS",
    "Alias",
    "StrictTool",
    "normalize_arguments",
    "unknown_tool_error",
]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _thinking_budget(value: Any) -> Any:
    """``thinking`` as earlier servers (and Anthropic's API) sent it -> a token budget."""
    if isinstance(value, bool):  # pydantic would read true as a budget of 1 token
        if not value:
            return None
        raise InvalidRequestError(
            "thinking=true says nothing about how much: give a token budget (thinking=2048) "
            'or {"budget_tokens": 2048}',
            metadata={"param": "thinking"},
        )
    if not isinstance(value, Mapping):
        return value
    allowed = {"budget_tokens", "type", "enabled"}
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise InvalidRequestError(
            f"thinking has unknown key(s) {', '.join(unknown)}: give a token budget "
            '(thinking=2048) or {"budget_tokens": 2048}',
            metadata={"param": "thinking"},
        )
    if value.get("type") == "disabled" or value.get("enabled") is False:
        return None
    if "budget_tokens" not in value:
        raise InvalidRequestError(
            'thinking needs budget_tokens: {"budget_tokens": 2048} (or simply thinking=2048)',
            metadata={"param": "thinking"},
        )
    return value["budget_tokens"]


def _tool_choice(value: Any) -> Any:
    """OpenAI's named choice ``{"type": "function", "function": {"name": N}}`` (what earlier
    servers' ``ask_poe_with_tools`` took) -> ``N``, the tool name ours takes."""
    if not isinstance(value, Mapping):
        return value
    function = value.get("function")
    name = function.get("name") if isinstance(function, Mapping) else value.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestError(
            'tool_choice must be "auto", "none", "required", a tool name, or '
            '{"type": "function", "function": {"name": ...}}',
            metadata={"param": "tool_choice"},
        )
    return name


def _effort(value: Any) -> Any:
    """The Responses API's ``reasoning={"effort": "high"}`` -> ``"high"``."""
    if not isinstance(value, Mapping):
        return value
    if set(value) - {"effort", "summary"} or "effort" not in value:
        raise InvalidRequestError(
            'reasoning takes {"effort": "low" | "medium" | "high"} (or give reasoning_effort: '
            "a level or a token budget)",
            metadata={"param": "reasoning"},
        )
    return value["effort"]


@dataclass(frozen=True, slots=True)
class Alias:
    """Another name for one of our arguments, with an optional value conversion."""

    target: str
    convert: Callable[[Any], Any] | None = None


# name callers use -> our argument; applied only when the tool has the target (and not the name).
ARGUMENT_ALIASES: dict[str, Alias] = {
    # OpenAI chat completions
    "max_completion_tokens": Alias("max_tokens"),
    "model": Alias("bot"),
    "system_prompt": Alias("system"),
    "stop_sequences": Alias("stop", _as_list),
    # OpenAI's Responses API
    "max_output_tokens": Alias("max_tokens"),
    "instructions": Alias("system"),
    "reasoning": Alias("reasoning_effort", _effort),
    # earlier Poe MCP servers
    "attachment_path": Alias("attachment_paths", _as_list),
    "file_path": Alias("attachment_paths", _as_list),
    "files": Alias("attachment_paths", _as_list),
    "message": Alias("prompt"),
    # OpenAI's Assistants API answers pending calls with tool_outputs
    "tool_outputs": Alias("tool_results"),
}

# our argument -> conversion of forms that mean the same thing
VALUE_FORMS: dict[str, Callable[[Any], Any]] = {
    "thinking": _thinking_budget,
    "stop": _as_list,
    "tool_choice": _tool_choice,
}

# Well-known names no tool takes, with the reason (instead of a bare "unknown").
UNSUPPORTED_HINTS: dict[str, str] = {
    "n": "one answer per call: call again for another",
    "seed": "Poe's API does not support seed",
    "presence_penalty": "Poe's API does not support presence_penalty",
    "frequency_penalty": "Poe's API does not support frequency_penalty",
    "logit_bias": "Poe's API does not support logit_bias",
    "logprobs": "Poe's API does not return logprobs",
    "top_logprobs": "Poe's API does not return logprobs",
    "user": "Poe's API does not support user",
    "messages": "send one prompt; pass session_id to continue a conversation",
    "top_k": "Poe's OpenAI-compatible API has no top_k (top_p is another thing); a bot that "
    "declares it takes it in params",
    "min_p": "Poe's OpenAI-compatible API has no min_p; a bot that declares it takes it in params",
    "repetition_penalty": "Poe's API does not support repetition_penalty",
}


# Tools of earlier Poe MCP servers (by name) -> what does the same here.
EARLIER_TOOLS: dict[str, str] = {
    "query_bot": "use ask_poe (its message is prompt here; files go to ask_with_attachment)",
    "search_models": "use list_available_models_v2 (query, modality, supports_tools)",
    "o3_query": 'use ask_poe with bot "o3"',
    "analyze-with-poe": "use ask_poe, or ask_with_attachment for files (attachment_paths)",
    "ask_poe_with_actions": "use ask_poe: poe-mcp never runs commands found in an answer",
    "ask_with_attachment_and_actions": (
        "use ask_with_attachment: poe-mcp never runs commands found in an answer"
    ),
    "get_enhanced_server_info": "use get_server_info",
    "register_custom_tool": (
        "poe-mcp never runs code sent as text: pass tool definitions to ask_poe_with_tools "
        "and answer its pending calls with tool_results"
    ),
}


def unknown_tool_error(name: str, exposed: list[str]) -> InvalidRequestError:
    """Why a call to a tool this server does not expose fails, and what to call instead.

    A tool of this version that the server was started without names the ``--tools`` group
    that enables it; a tool of an earlier Poe MCP server names the tool that does the same
    here; anything else gets "did you mean" among the exposed tools.
    """
    from .registry import OPTIONAL_GROUPS, TOOL_GROUPS, TOOL_MODULES

    shown = _short(name)
    metadata: dict[str, Any] = {"tool": shown, "tools": list(exposed)}
    if name in TOOL_MODULES:
        group = next((g for g, names in TOOL_GROUPS.items() if name in names), name)
        off = " (off by default)" if group in OPTIONAL_GROUPS else ""
        text = (
            f"tool {shown!r} is not enabled on this server: its group {group!r}{off} was not "
            f"selected. Start the server with --tools all,{group} (or POE_MCP_TOOLS, or tools "
            "under [server] in config.toml)."
        )
        metadata["enable"] = group
    elif name in EARLIER_TOOLS:
        text = f"{shown!r} is a tool of an earlier Poe MCP server: {EARLIER_TOOLS[name]}."
    else:
        found = suggest(name.replace("-", "_"), exposed)
        hint = f" Did you mean {' or '.join(repr(f) for f in found)}?" if found else ""
        text = f"unknown tool {shown!r}.{hint} This server has: {', '.join(exposed)}."
        metadata["suggestions"] = found
    return InvalidRequestError(text, metadata=metadata)


def _short(name: str) -> str:
    limit = C.ARGUMENT_NAME_MAX_CHARS
    return name if len(name) <= limit else name[:limit] + "…"


def _unknown_text(
    tool: str, name: str, declared: list[str], elsewhere: Mapping[str, list[str]]
) -> tuple[str, list[str]]:
    """One unknown argument explained: suggestions, then why, then where it exists."""
    found = suggest(
        name, [*declared, *(a for a, al in ARGUMENT_ALIASES.items() if al.target in declared)]
    )
    text = f"unknown argument {_short(name)!r}"
    if name in UNSUPPORTED_HINTS:  # before "did you mean": top_k is not top_p
        found = []
        text += f" ({UNSUPPORTED_HINTS[name]})"
    elif found:
        text += " (did you mean " + " or ".join(repr(f) for f in found) + "?)"
    elif name == "session_id":
        text += f" ({tool} keeps no conversation: leave session_id out)"
    elif (where := _elsewhere(name, elsewhere)) is not None:
        other, tools = where
        named = "" if other == name else f" as {other!r}"
        text += f" (taken by {', '.join(tools)}{named}, not by {tool})"
    elif "params" in declared:
        text += f" (a bot parameter? put it in params: {{{name!r}: ...}})"
    return text, found


def _elsewhere(name: str, elsewhere: Mapping[str, list[str]]) -> tuple[str, list[str]] | None:
    """The argument of other tools ``name`` means (itself, another case, or what its alias
    maps to), and those tools; None when no tool takes it."""
    alias = ARGUMENT_ALIASES.get(name)
    lowered = {key.lower(): key for key in elsewhere}
    for candidate in (name, lowered.get(name.lower()), alias.target if alias else None):
        if candidate is not None and candidate in elsewhere:
            return candidate, elsewhere[candidate]
    return None


def normalize_arguments(
    tool: str,
    schema: Mapping[str, Any],
    arguments: Mapping[str, Any],
    *,
    elsewhere: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The arguments the tool declares, aliases mapped and old value forms converted.

    Args:
        tool: the tool's name (for messages).
        schema: its input schema (``properties`` names what it takes).
        arguments: what the caller sent.
        elsewhere: argument name -> other tools that take it (for the hint).

    Raises:
        InvalidRequestError: an unknown argument (with "did you mean"), or an argument given
            under two names.
    """
    declared = list((schema.get("properties") or {}).keys())
    out: dict[str, Any] = {}
    problems: list[str] = []
    unknown: list[str] = []
    suggestions: dict[str, list[str]] = {}
    for key, value in arguments.items():
        name = key
        if key not in declared:
            alias = ARGUMENT_ALIASES.get(key)
            if alias is None or alias.target not in declared:
                text, found = _unknown_text(tool, key, declared, elsewhere or {})
                problems.append(text)
                unknown.append(_short(key))
                suggestions[_short(key)] = found
                continue
            if alias.target in arguments:
                problems.append(f"{key!r} and {alias.target!r} are the same argument: give one")
                continue
            name = alias.target
            value = alias.convert(value) if alias.convert else value
        form = VALUE_FORMS.get(name)
        if form is not None:
            value = form(value)
        out[name] = value
    if problems:
        takes = ", ".join(declared) or "no arguments"
        raise InvalidRequestError(
            f"invalid arguments for {tool}: {'; '.join(problems)}. {tool} takes: {takes}. "
            "Fix the arguments and call again.",
            metadata={"unknown_arguments": unknown, "suggestions": suggestions},
        )
    return out


class StrictTool(Tool):
    """An SDK ``Tool`` that checks argument names (see the module docstring) before it runs."""

    _elsewhere: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    _on_refused: Callable[[str], None] | None = PrivateAttr(default=None)

    def configure(
        self, elsewhere: dict[str, list[str]], on_refused: Callable[[str], None] | None
    ) -> None:
        """Where else each argument name exists, and what to call when a call is refused."""
        self._elsewhere = elsewhere
        self._on_refused = on_refused

    async def run(
        self,
        arguments: dict[str, Any],
        context: Context[LifespanContextT, RequestT],
        convert_result: bool = False,
    ) -> Any:
        try:
            check_arguments(self.name, self.parameters, arguments)  # sizes first: see _sizes
            checked = normalize_arguments(
                self.name, self.parameters, arguments, elsewhere=self._elsewhere
            )
        except InvalidRequestError as exc:
            if self._on_refused is not None:
                self._on_refused(self.name)
            raise ToolError(render_error(exc)) from None
        return await super().run(checked, context, convert_result=convert_result)
