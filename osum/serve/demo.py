"""The demo page, served by the API's own process: upload or record audio, pick tasks,
see each task's fields (transcript, labels, word times, answer) and the raw text.

    add_demo(app, demo_tasks(s2t.registry), settings.served_model_name)

Routes: ``GET /`` (a redirect to ``/demo``) and ``GET /demo``: one self-contained page
(``static/demo.html``: its own HTML, CSS and vanilla JS, nothing from elsewhere, which
its Content-Security-Policy enforces). The page calls the server's own ``POST
/v1/chat/completions``, one request per task, with the audio as base64 ``input_audio``,
and reads the completion's ``osum`` field. Where the server asks for an API key the page
has a field for it, sent as ``Authorization: Bearer``; the key stays in the page.
Recording needs a secure context (``localhost``, or https in front of the server).
"""

import json
from pathlib import Path
from typing import Dict, List, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from osum.asrx.registry import Task

PAGE = Path(__file__).parent / "static" / "demo.html"
CONFIG_SLOT = "/*OSUM_CONFIG*/{}"  # in the page: replaced by the page's config (JSON)
# the page loads nothing from elsewhere and talks to this server only
POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; media-src 'self' blob: data:; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def demo_tasks(registry: Mapping[str, Task], language: str = "en") -> List[Dict]:
    """The tasks as the page lists them: name, prompt (in ``language``), label fields, and
    whether the task writes word times or answers."""
    return [
        {
            "name": t.name,
            "prompt": t.prompt(language, 0) if language in t.prompts else t.prompt(),
            "fields": list(t.fields),
            "timestamps": bool(t.timestamps),
            "chat": bool(t.chat),
        }
        for t in registry.values()
    ]


def render(tasks: List[Dict], model_name: str, needs_key: bool) -> str:
    """The page with its config: the model's name, the tasks, whether a key is asked."""
    page = PAGE.read_text(encoding="utf-8")
    if page.count(CONFIG_SLOT) != 1:
        raise ValueError(f"{PAGE}: no single {CONFIG_SLOT!r} for the page's config")
    config = {"model": model_name, "tasks": tasks, "needs_key": needs_key}
    # "<" escaped: a prompt's "</script>" (or "<开始回答>") cannot end the script
    text = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    return page.replace(CONFIG_SLOT, text)


def add_demo(
    app: FastAPI, tasks: List[Dict], model_name: str, needs_key: bool | None = None
) -> None:
    """Serve the demo page on ``app`` (``GET /demo``; ``GET /`` redirects there).

    ``tasks``: what :func:`demo_tasks` gives. ``needs_key``: whether the page asks for an
    API key; None: when the app's ``state.settings`` has one."""
    if needs_key is None:
        settings = getattr(app.state, "settings", None)
        needs_key = getattr(settings, "api_key", None) is not None
    html = render(tasks, model_name, needs_key)  # now: a broken page fails at start-up
    headers = {"Content-Security-Policy": POLICY, "Cache-Control": "no-cache"}

    @app.get("/", include_in_schema=False)
    async def root(request: Request):  # under a mount or a root path: that prefix's /demo
        return RedirectResponse(request.scope.get("root_path", "") + "/demo")

    @app.get("/demo", include_in_schema=False)
    async def demo():
        return HTMLResponse(html, headers=headers)
