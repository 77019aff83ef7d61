"""Reading parameters from the URL query and a form-encoded body, as Go's ParseForm does."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from pharos.metrics.api.errors import bad_data

FORM_TYPE = "application/x-www-form-urlencoded"


async def read_form(request: Request) -> dict[str, list[str]]:
    """Body values (POST/PUT/PATCH form) first, then URL query values, each as a list."""
    form: dict[str, list[str]] = {}
    if request.method in ("POST", "PUT", "PATCH"):
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == FORM_TYPE:
            body = await request.body()
            try:
                pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise bad_data("error parsing form values: invalid UTF-8 in body") from None
            for key, value in pairs:
                form.setdefault(key, []).append(value)
    for key, value in request.query_params.multi_items():
        form.setdefault(key, []).append(value)
    return form
