"""Reasoning that a provider wrote into the answer's text between ``<think>`` tags.

Servers that run reasoning models without a reasoning parser (vLLM, LM Studio, llama.cpp,
Ollama before 0.9, Together's and Groq's raw formats for DeepSeek-R1 and Qwen3) send the model's
thinking as the start of ``content``: ``<think>...</think>`` then the answer; Gemini's
OpenAI-compatible API does the same with ``<thought>``. Only a block at the very start of the
answer (after blank space) is reasoning; tags anywhere else are the answer's own text.

:class:`ThinkSplitter` does this for a stream, whose tags may be cut across chunks: it holds back
only what could still be the start of a tag.
"""

from __future__ import annotations

__all__ = ["ThinkSplitter", "split_think"]

_OPENING = ("<think>", "<thought>")


def _held(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could begin ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Feed the answer's text as it arrives; get ``(text, reasoning)`` to show."""

    def __init__(self) -> None:
        self._state = "start"  # start -> (inside -> after ->) text
        self._close = ""
        self._buffer = ""

    def feed(self, piece: str) -> tuple[str, str]:
        self._buffer += piece
        text: list[str] = []
        thought: list[str] = []
        while self._buffer:
            if self._state == "start":
                head = self._buffer.lstrip()
                tag = next((t for t in _OPENING if head.startswith(t)), None)
                if tag is not None:
                    self._state, self._close = "inside", "</" + tag[1:]
                    self._buffer = head[len(tag) :]
                elif not head or any(t.startswith(head) for t in _OPENING):
                    break  # blank space or part of a tag so far: wait for more
                else:
                    self._state = "text"
            elif self._state == "inside":
                end = self._buffer.find(self._close)
                if end < 0:
                    keep = _held(self._buffer, self._close)
                    thought.append(self._buffer[: len(self._buffer) - keep])
                    self._buffer = self._buffer[len(self._buffer) - keep :]
                    break
                thought.append(self._buffer[:end])
                self._buffer = self._buffer[end + len(self._close) :]
                self._state = "after"
            elif self._state == "after":
                self._buffer = self._buffer.lstrip()
                if self._buffer:
                    self._state = "text"
            else:
                text.append(self._buffer)
                self._buffer = ""
        return "".join(text), "".join(thought)

    def flush(self) -> tuple[str, str]:
        """What is held back, once the answer ended: text, or reasoning never closed."""
        rest, self._buffer = self._buffer, ""
        if self._state == "inside":
            return "", rest
        if self._state == "after":
            return "", ""
        self._state = "text"
        return rest, ""


def split_think(text: str) -> tuple[str, str]:
    """``(answer, reasoning)`` of a whole answer's text."""
    splitter = ThinkSplitter()
    answer, thought = splitter.feed(text)
    more, more_thought = splitter.flush()
    return answer + more, thought + more_thought
