"""E-mail bodies from the templates beside this module: ``<name>.txt`` and ``<name>.html``.

``string.Template`` placeholders (``$title``); each notification of a digest is rendered with
``<name>_item`` and joined into ``$items``. Every value is HTML-escaped in the HTML body.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from src.application.notifications.ports import RenderedBody

TEMPLATE_DIR = Path(__file__).parent / "templates"


@cache
def _load(name: str) -> Template:
    return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return "" if value is None else str(value)


class FileEmailTemplates:
    def render(self, template: str, context: Mapping[str, Any]) -> RenderedBody:
        items = list(context.get("items") or [])
        text_items = "\n".join(
            _load(f"{template}_item.txt").substitute({k: _text(v) for k, v in item.items()}) for item in items
        )
        html_items = "\n".join(
            _load(f"{template}_item.html").substitute({k: html.escape(_text(v)) for k, v in item.items()})
            for item in items
        )
        unsubscribe = context.get("unsubscribe_url")
        app = _text(context.get("app_name"))
        if unsubscribe:
            text_footer = f"You get these because {context['category']} e-mail is on. Turn it off: {unsubscribe}"
            html_footer = (
                f"You get these because {html.escape(_text(context['category']))} e-mail is on. "
                f'<a href="{html.escape(str(unsubscribe))}">Turn it off</a>.'
            )
        else:
            text_footer = f"{app} sends security notices to every account; they cannot be turned off."
            html_footer = html.escape(text_footer)
        plain = {k: _text(v) for k, v in context.items() if k != "items"}
        escaped = {k: html.escape(v) for k, v in plain.items()}
        return RenderedBody(
            text=_load(f"{template}.txt").substitute({**plain, "items": text_items, "footer": text_footer}),
            html=_load(f"{template}.html").substitute({**escaped, "items": html_items, "footer": html_footer}),
        )
