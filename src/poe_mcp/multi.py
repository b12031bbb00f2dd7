"""Many models at once: the same question to several models, and a verdict over their answers.

::

    from poe_mcp import AsyncPoeClient, compare, consensus

    async with AsyncPoeClient() as client:
        table = await compare(client, "Is P=NP?", ["Claude-Sonnet-4", "GPT-4.1", "Grok-4"])
        for answer in table.answers:  # in the order asked, each with its tokens, cost, latency
            print(answer.model, answer.ok, answer.cost, answer.latency_s, answer.text[:80])

        verdict = await consensus(
            client,
            "Should we rewrite the service in Rust?",
            ["Claude-Sonnet-4", "GPT-4.1", "Gemini-2.5-Pro"],
            stances=["for", "against", "neutral"],
            synthesizer="Claude-Opus-4.1",
        )
        print(verdict.text)  # Agreement / Disagreement / Verdict, naming the models
        for step in verdict.steps():
            print(step["step"], step["model"], step["cost"])

:func:`compare` sends one request per model, all at once (the client's rate limiter still
spaces them), so the whole comparison takes about as long as the slowest model. Every model
gets the same messages, system prompt, attachments and parameters; a model that fails is
reported in its own :class:`ModelAnswer` (``error``) and never fails the others. Comparisons use
no fallbacks: they compare the models named.

:func:`consensus` asks each model with an optional stance (``for``, ``against``, ``neutral``,
given to it as a system instruction), then a synthesizer model reads every answer and writes a
verdict naming where they agree and disagree. Every step's tokens and cost are kept. With the
blocking client: ``PoeClient.compare(...)`` and ``PoeClient.consensus(...)``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Unpack

from . import _constants as C
from ._messages import build_messages, last_user_text
from .errors import InvalidRequestError, PoeError
from .types import ChatOptions, ChatResult, Usage

if TYPE_CHECKING:
    from ._messages import MessagesInput
    from .client import AsyncPoeClient

__all__ = [
    "STANCES",
    "Comparison",
    "Consensus",
    "ModelAnswer",
    "Stance",
    "compare",
    "consensus",
    "stance_instruction",
]

Stance = Literal["for", "against", "neutral"]
STANCES: tuple[Stance, ...] = ("for", "against", "neutral")
OnAnswer = Callable[["ModelAnswer"], Awaitable[None] | None]

# Each stance instruction starts with "Stance: <side>." (the simulator keys on it) and asks for
# a closing "Opinion:" line, which gives the synthesizer one comparable sentence per answer.
_STANCE_TEXT: dict[str, str] = {
    "for": "Argue in favour: make the strongest honest case for the proposal or claim in the "
    "question. Do not invent facts; if something is truly unworkable, say so plainly.",
    "against": "Argue against: make the strongest honest case against the proposal or claim in "
    "the question. Do not invent flaws; if it is truly sound, say so plainly.",
    "neutral": "Weigh the arguments for and against evenly and give your own judgement.",
}
_OPINION_ASK = "End with one line starting 'Opinion:' that states your position in a few words."
_SYNTHESIZER_SYSTEM = (
    "You synthesize the answers a panel of models gave to one question into a single verdict. "
    "Be fair to every answer, weigh arguments rather than counting votes, and name the models "
    "when you attribute a view."
)
_SYNTHESIS_ASK = (
    "Write the verdict in three parts:\n"
    "Agreement: where the answers agree.\n"
    "Disagreement: where they differ, naming the models.\n"
    "Verdict: your conclusion and how sure it is."
)


def stance_instruction(stance: Stance) -> str:
    """The system instruction a panel model gets for ``stance``."""
    return f"Stance: {stance}. {_STANCE_TEXT[stance]} {_OPINION_ASK}"


@dataclass(slots=True)
class ModelAnswer:
    """One model's answer in a comparison or a consensus panel.

    Attributes:
        model: the model asked.
        result: its answer (text, tokens, cost...), or None when it failed.
        error: why it failed, or None.
        latency_s: wall time of its call, retries included.
        stance: the stance it was given (consensus only).
    """

    model: str
    result: ChatResult | None = None
    error: PoeError | None = None
    latency_s: float = 0.0
    stance: Stance | None = None

    @property
    def ok(self) -> bool:
        """Whether the model answered."""
        return self.result is not None

    @property
    def text(self) -> str:
        """The answer's text (empty when the model failed)."""
        return self.result.text if self.result is not None else ""

    @property
    def usage(self) -> Usage:
        """The answer's token usage (zero when the model failed)."""
        return self.result.usage if self.result is not None else Usage()

    @property
    def cost(self) -> float | None:
        """USD of the answer; None when its price is unknown; 0 for a failed call."""
        return self.result.cost if self.result is not None else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The answer as a JSON-ready dict."""
        return {
            "model": self.model,
            "answered_by": self.result.model if self.result is not None else None,
            "ok": self.ok,
            "stance": self.stance,
            "text": self.text,
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "latency_s": round(self.latency_s, 6),
            "finish_reason": self.result.finish_reason if self.result is not None else None,
            "error": self.error.to_dict()["error"] if self.error is not None else None,
        }


def _total_cost(costs: Sequence[float | None]) -> float | None:
    """The sum, or None when any part is unknown (an unknown price is never counted as 0)."""
    total = 0.0
    for cost in costs:
        if cost is None:
            return None
        total += cost
    return total


@dataclass(slots=True)
class Comparison:
    """The answers of several models to one request, in the order the models were given.

    Attributes:
        answers: one per model.
        wall_s: wall time of the whole comparison (about the slowest model's latency).
    """

    answers: list[ModelAnswer] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def succeeded(self) -> list[ModelAnswer]:
        """The answers of the models that answered."""
        return [a for a in self.answers if a.ok]

    @property
    def failed(self) -> list[ModelAnswer]:
        """The answers of the models that failed."""
        return [a for a in self.answers if not a.ok]

    @property
    def usage(self) -> Usage:
        """The token usage of every answer, summed."""
        total = Usage()
        for answer in self.answers:
            total = total + answer.usage
        return total

    @property
    def cost(self) -> float | None:
        """USD of every answer; None when a successful model's price is unknown."""
        return _total_cost([a.cost for a in self.answers])

    def answer(self, model: str) -> ModelAnswer:
        """The first answer of ``model`` (any case). Raises KeyError when it was not asked."""
        for answer in self.answers:
            if answer.model.lower() == model.lower():
                return answer
        raise KeyError(model)

    def to_dict(self) -> dict[str, Any]:
        """The panel as a JSON-ready dict."""
        return {
            "answers": [a.to_dict() for a in self.answers],
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "wall_s": round(self.wall_s, 6),
            "failed": [a.model for a in self.failed],
        }


@dataclass(slots=True)
class Consensus:
    """A panel's answers and the synthesizer's verdict.

    Attributes:
        question: the question as the panel read it (the last user message).
        panel: the panel's answers (a :class:`Comparison`, stances set).
        synthesizer: the model that wrote the verdict.
        verdict: its answer, or None when the synthesis failed.
        synthesis_error: why the synthesis failed, or None.
        wall_s: wall time of panel and synthesis.
    """

    question: str
    panel: Comparison
    synthesizer: str
    verdict: ChatResult | None = None
    synthesis_error: PoeError | None = None
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the judge gave a verdict."""
        return self.verdict is not None

    @property
    def text(self) -> str:
        """The verdict's text (empty when the synthesis failed)."""
        return self.verdict.text if self.verdict is not None else ""

    @property
    def usage(self) -> Usage:
        """The token usage of the panel and the verdict, summed."""
        verdict = self.verdict.usage if self.verdict is not None else Usage()
        return self.panel.usage + verdict

    @property
    def cost(self) -> float | None:
        """USD of every step; None when any step's price is unknown."""
        verdict = self.verdict.cost if self.verdict is not None else 0.0
        return _total_cost([self.panel.cost, verdict])

    def steps(self) -> list[dict[str, Any]]:
        """Every step (each panel answer, then the synthesis) with its model, tokens, cost."""
        rows = [{"step": "answer", **a.to_dict()} for a in self.panel.answers]
        synthesis = ModelAnswer(self.synthesizer, self.verdict, self.synthesis_error)
        if self.verdict is not None:
            synthesis.latency_s = self.verdict.latency_s
        rows.append({"step": "synthesis", **synthesis.to_dict()})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The judged panel as a JSON-ready dict."""
        return {
            "question": self.question,
            "verdict": self.text,
            "synthesizer": self.synthesizer,
            "ok": self.ok,
            "steps": self.steps(),
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "wall_s": round(self.wall_s, 6),
        }


def _check_models(models: Sequence[str]) -> list[str]:
    if isinstance(models, str):
        raise InvalidRequestError("models must be a list of model names, not one string")
    names = [m.strip() for m in models if isinstance(m, str)]
    if len(names) != len(models) or not all(names):
        raise InvalidRequestError(f"models must be model names, got {list(models)!r}")
    if not names:
        raise InvalidRequestError("name at least one model to ask")
    if len(names) > C.COMPARE_MAX_MODELS:
        raise InvalidRequestError(
            f"at most {C.COMPARE_MAX_MODELS} models at once, got {len(names)}: every one is a "
            "paid request"
        )
    return names


def _prepared(prompt: MessagesInput, options: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages every model gets, built once (attachments read and encoded once)."""
    if options.get("fallbacks"):
        raise InvalidRequestError(
            "fallbacks do not apply here: each model is asked for itself and a failure is "
            "reported for that model"
        )
    options["fallbacks"] = ()
    _check_options(options)
    return build_messages(
        prompt, system=options.pop("system", None), attachments=options.pop("attachments", None)
    )


def _check_options(options: Mapping[str, Any]) -> None:
    """Refuse what every model would refuse alike (a bad temperature, effort or option name)
    once, before anything is sent, instead of reporting it as N failed answers."""
    from ._messages import validate_params
    from ._reasoning import validate_effort

    unknown = sorted(set(options) - set(ChatOptions.__annotations__))
    if unknown:
        raise TypeError(f"unknown chat option(s) for a comparison: {', '.join(unknown)}")
    validate_params(
        temperature=options.get("temperature"),
        top_p=options.get("top_p"),
        max_tokens=options.get("max_tokens"),
        stop=options.get("stop"),
    )
    if options.get("reasoning_effort") is not None:
        validate_effort(options["reasoning_effort"])
    from ._honour import check_extra

    check_extra(options.get("extra"))  # {"model": ...} in params: refused once, not per model


async def _ask_all(
    client: AsyncPoeClient,
    jobs: Sequence[tuple[str, list[dict[str, Any]], Stance | None]],
    options: Mapping[str, Any],
    on_answer: OnAnswer | None,
) -> Comparison:
    """Ask every (model, messages, stance) at once; failures land in their own answer."""
    answers: list[ModelAnswer | None] = [None] * len(jobs)
    started = time.perf_counter()

    async def one(index: int, model: str, messages: list[dict[str, Any]], stance: Any) -> None:
        t0 = time.perf_counter()
        try:
            result = await client.chat(model, messages, **options)
            answer = ModelAnswer(model, result, latency_s=result.latency_s, stance=stance)
        except PoeError as exc:
            answer = ModelAnswer(
                model, error=exc, latency_s=time.perf_counter() - t0, stance=stance
            )
        answers[index] = answer
        if on_answer is not None:
            pending = on_answer(answer)
            if inspect.isawaitable(pending):
                await pending

    try:
        async with asyncio.TaskGroup() as group:
            for index, (model, messages, stance) in enumerate(jobs):
                group.create_task(one(index, model, messages, stance))
    except BaseExceptionGroup as grouped:  # a bug (ours or a callback's): raise it as itself
        if len(grouped.exceptions) == 1:
            raise grouped.exceptions[0] from None
        raise
    done = [a for a in answers if a is not None]
    return Comparison(done, time.perf_counter() - started)


async def compare(
    client: AsyncPoeClient,
    prompt: MessagesInput,
    models: Sequence[str],
    *,
    on_answer: OnAnswer | None = None,
    **options: Unpack[ChatOptions],
) -> Comparison:
    """Ask every model in ``models`` the same thing at once.

    Args:
        client: the client to call through (its rate limit, retries, budget and ledger apply
            to each model's call).
        prompt: a prompt, or OpenAI-format messages.
        models: the models to ask (up to ``COMPARE_MAX_MODELS``; the same model twice is fine).
        on_answer: called with each :class:`ModelAnswer` as it arrives (sync or async).
        **options: what :meth:`AsyncPoeClient.chat` takes (system, attachments, temperature,
            max_tokens, extra, reasoning_effort, timeout...), the same for every model.
            ``fallbacks`` is refused: each model is asked for itself.

    Returns:
        A :class:`Comparison`: answers in the order of ``models``, failed ones with ``error``.

    Raises:
        InvalidRequestError: no models, too many, or a bad option (before anything is sent).
    """
    names = _check_models(models)
    call: dict[str, Any] = dict(options)
    messages = _prepared(prompt, call)
    return await _ask_all(client, [(m, messages, None) for m in names], call, on_answer)


def _stances(
    names: list[str], stances: Sequence[Stance | None] | Mapping[str, Stance] | None
) -> list[Stance]:
    if stances is None:
        return ["neutral"] * len(names)
    if isinstance(stances, Mapping):
        by_name = {str(k).lower(): v for k, v in stances.items()}
        unknown = sorted(set(by_name) - {n.lower() for n in names})
        if unknown:
            raise InvalidRequestError(f"stances name models not in the panel: {unknown}")
        chosen: list[Any] = [by_name.get(n.lower()) for n in names]
    else:
        if isinstance(stances, str) or len(stances) > len(names):
            raise InvalidRequestError(
                "stances must be a list with at most one stance per model, in the models' order"
            )
        chosen = [*stances, *([None] * (len(names) - len(stances)))]
    out: list[Stance] = []
    for stance in chosen:
        if stance is None:
            out.append("neutral")
        elif stance in STANCES:
            out.append(stance)
        else:
            raise InvalidRequestError(f"a stance is one of for, against, neutral; got {stance!r}")
    return out


def _with_stance(messages: list[dict[str, Any]], stance: Stance) -> list[dict[str, Any]]:
    instruction = stance_instruction(stance)
    if messages and messages[0].get("role") == "system":
        first = messages[0].get("content")
        text = first if isinstance(first, str) else ""
        return [{"role": "system", "content": f"{text}\n\n{instruction}".strip()}, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


def synthesis_prompt(question: str, panel: Comparison) -> str:
    """The synthesizer's request: the question, each answer under its heading, the ask."""
    parts = [f"Question put to a panel of {len(panel.answers)} models:\n{question}"]
    for number, answer in enumerate(panel.answers, 1):
        head = f"### Answer {number}: {answer.model} (stance: {answer.stance or 'none'})"
        if answer.ok:
            parts.append(f"{head}\n{answer.text.strip()}")
        else:
            kind = answer.error.kind if answer.error is not None else "error"
            parts.append(f"{head}\n[no answer: the model failed ({kind})]")
    parts.append(_SYNTHESIS_ASK)
    return "\n\n".join(parts)


async def consensus(
    client: AsyncPoeClient,
    prompt: MessagesInput,
    models: Sequence[str],
    *,
    stances: Sequence[Stance | None] | Mapping[str, Stance] | None = None,
    synthesizer: str | None = None,
    on_answer: OnAnswer | None = None,
    **options: Unpack[ChatOptions],
) -> Consensus:
    """Ask a panel of models (each with a stance), then have a synthesizer give the verdict.

    Args:
        client: the client to call through.
        prompt: the question (a prompt or OpenAI-format messages).
        models: the panel (up to ``COMPARE_MAX_MODELS``; one model twice with two stances works).
        stances: one per model in order (a list; missing ones are neutral), or by model name
            (a mapping); each is ``for``, ``against`` or ``neutral`` (the default).
        synthesizer: the model that writes the verdict (default: the first of ``models``).
        on_answer: called with each panel answer as it arrives, then with the synthesis.
        **options: chat options for the panel's calls (system, attachments, temperature,
            reasoning_effort...). The synthesizer gets ``timeout``, ``backend`` and
            ``reasoning_effort`` only, plus the ``[fallbacks]`` of config.toml.

    Returns:
        A :class:`Consensus`. When the synthesis fails, ``verdict`` is None and
        ``synthesis_error`` says why; the panel's answers are kept.

    Raises:
        InvalidRequestError: no models, too many, a bad stance (before anything is sent).
        PoeError: every panel model failed (the first model's error, naming all of them).
    """
    names = _check_models(models)
    sides = _stances(names, stances)
    judge = (synthesizer or names[0]).strip()
    if not judge:
        raise InvalidRequestError("the synthesizer must be a model name")
    call: dict[str, Any] = dict(options)
    messages = _prepared(prompt, call)
    from ._capabilities import check_known_model

    await check_known_model(client, judge, "the synthesizer")  # before the panel is paid
    jobs = [(m, _with_stance(messages, s), s) for m, s in zip(names, sides, strict=True)]
    started = time.perf_counter()
    panel = await _ask_all(client, jobs, call, on_answer)
    if not panel.succeeded:
        first = panel.answers[0].error
        assert first is not None
        why = "; ".join(f"{a.model}: {a.error.kind}" for a in panel.answers if a.error)
        first.message = f"no panel model answered ({why}): {first.message}"
        first.args = (first.message,)
        raise first
    question = last_user_text(messages) or (prompt if isinstance(prompt, str) else "")
    judged = Consensus(question, panel, judge)
    extra = {k: call[k] for k in ("timeout", "backend", "reasoning_effort") if k in call}
    t0 = time.perf_counter()
    try:
        judged.verdict = await client.chat(
            judge,
            synthesis_prompt(question, panel),
            system=_SYNTHESIZER_SYSTEM,
            **extra,
        )
    except PoeError as exc:
        judged.synthesis_error = exc
    judged.wall_s = time.perf_counter() - started
    if on_answer is not None:
        step = ModelAnswer(judge, judged.verdict, judged.synthesis_error, time.perf_counter() - t0)
        pending = on_answer(step)
        if inspect.isawaitable(pending):
            await pending
    return judged
