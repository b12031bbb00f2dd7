"""The Compare page: one prompt to several models at once, side by side (``multi.compare``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import _constants as C
from .._money import format_usd
from ..errors import InvalidRequestError, PoeError
from ._inputs import check_model
from ._web import Routes, console_of, render

__all__ = ["routes"]

routes = Routes()


@routes.page("/compare")
async def compare_page(request: Request) -> Response:
    ctx = console_of(request).context
    return await render(
        request,
        "compare.html",
        page_name="compare",
        models=[ctx.configured.model],
        prompt="",
        answers=None,
        max_models=C.COMPARE_MAX_MODELS,
    )


@routes.action("/compare")
async def run_compare(request: Request) -> Response:
    from ..multi import compare

    ctx = console_of(request).context
    form = await request.form()
    prompt = str(form.get("prompt") or "").strip()
    models = [m.strip() for m in str(form.get("models") or "").replace("\n", ",").split(",")]
    models = [m for m in models if m]
    answers = None
    error = None
    wall = None
    system = str(form.get("system") or "").strip() or None
    try:
        if not prompt:
            raise InvalidRequestError("write a prompt to compare")
        for name in models:
            check_model(name)
        table = await compare(await ctx.client(), prompt, models, system=system)
        wall = table.wall_s
        answers = [
            {
                "model": a.model,
                "text": a.text,
                "error": a.error.message if a.error else None,
                "kind": a.error.kind if a.error else None,
                "tokens": (
                    f"{a.result.usage.input_tokens:,} in / {a.result.usage.output_tokens:,} out"
                    if a.result
                    else ""
                ),
                "cost": format_usd(a.result.cost) if a.result else "",
                "latency": f"{a.latency_s:.2f} s",
            }
            for a in table.answers
        ]
    except PoeError as exc:
        error = exc.message
    return await render(
        request,
        "compare.html",
        page_name="compare",
        models=models,
        prompt=prompt,
        answers=answers,
        error=error,
        wall=wall,
        system=system or "",
        max_models=C.COMPARE_MAX_MODELS,
        status_code=200 if error is None else 422,
    )
