"""The built web app (``web/dist``) at ``/``, and the API documentation viewers without a CDN.

Hashed build assets (``/assets/*``) are cached for a year (their names change with their content);
every other file and ``index.html`` are revalidated on each load, so a new build is picked up at once.
A path that is no file and has no extension is a client route: it gets ``index.html`` and the app's
router takes it from there. The API's own prefixes never fall back: an unknown ``/api/...`` is the
API's 404 problem, not a page.

The documentation viewers (Swagger UI, Scalar) load their scripts and styles from ``/schema/assets``:
the vendor files are copied from the web build's npm packages into ``web/dist/docs-assets`` and the
two small start-up scripts ship with Parley, so the pages need no inline script and no CDN.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.response import File
from litestar.types import ControllerRouterHandler

#: Paths that belong to the API and its machinery: never answered with the app's index.html.
RESERVED_PREFIXES = ("/api", "/v1", "/schema", "/health", "/ready", "/metrics")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
#: The vendor files of the documentation viewers, copied by the web build (web/vite.config.ts).
DOCS_VENDOR_DIR = "docs-assets"
_DOCS_INIT_DIR = Path(__file__).parent / "docs_assets"
_DOCS_FILES = {
    "swagger-ui.css": DOCS_VENDOR_DIR,
    "swagger-ui-bundle.js": DOCS_VENDOR_DIR,
    "scalar-standalone.js": DOCS_VENDOR_DIR,
    "swagger-init.js": None,
    "scalar-init.js": None,
}


def _is_reserved(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED_PREFIXES)


def _inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` when that is a file inside ``root`` (no ``..`` or symlink escapes)."""
    candidate = (root / relative.lstrip("/")).resolve()
    if candidate.is_file() and candidate.is_relative_to(root):
        return candidate
    return None


def _file(path: Path, cache_control: str) -> File:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return File(
        path, media_type=media_type, content_disposition_type="inline", headers={"Cache-Control": cache_control}
    )


def web_app_handlers(dist_dir: Path) -> list[ControllerRouterHandler]:
    """The routes that serve the built app; none when it is not built (the API is served alone)."""
    root = dist_dir.resolve()
    index = root / "index.html"
    if not index.is_file():
        return []

    @get(["/", "/{path:path}"], include_in_schema=False, opt={"rate_limit": False}, name="web_app", cache_control=None)
    async def web_app(request: Request[Any, Any, Any]) -> File:
        path = request.url.path
        if _is_reserved(path):
            raise NotFoundException(f"No route for {path}")
        found = _inside(root, path) if path != "/" else None
        if found is not None:
            return _file(found, IMMUTABLE if path.startswith("/assets/") else REVALIDATE)
        if "." in path.rsplit("/", 1)[-1]:
            raise NotFoundException(f"No file {path}")
        return _file(index, REVALIDATE)

    return [web_app]


class _LocalViewer(OpenAPIRenderPlugin):
    """A viewer page whose every script and style comes from ``/schema/assets`` (see module docstring)."""

    title = "Parley API"
    body = ""
    registers_assets = False

    def __init__(self, *, path: str, dist_dir: Path) -> None:
        super().__init__(path=path)
        self.vendor_dir = (dist_dir / DOCS_VENDOR_DIR).resolve()

    def head(self) -> str:
        return ""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if not (self.vendor_dir / "swagger-ui-bundle.js").is_file():
            body = (
                "<main><h1>Parley API</h1><p>The documentation viewer is part of the web build, which is missing: "
                "run <code>make run</code> (it builds the web app with npm). The schema itself is at "
                '<a href="/schema/openapi.json">/schema/openapi.json</a>.</p></main>'
            )
        else:
            body = self.body
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{self.title}</title>{self.head()}</head><body>{body}</body></html>"
        )
        return page.encode()

    def receive_router(self, router: Router) -> None:
        if not self.registers_assets:
            return  # one viewer registers the shared assets route
        vendor_dir = self.vendor_dir

        @get("/assets/{name:str}", include_in_schema=False, name="docs_assets", cache_control=None)
        async def docs_assets(name: str) -> Response[Any]:
            if name not in _DOCS_FILES:
                raise NotFoundException(f"No asset {name}")
            folder = _DOCS_INIT_DIR if _DOCS_FILES[name] is None else vendor_dir
            found = _inside(folder, name)
            if found is None:
                raise NotFoundException(f"Asset {name} is not built")
            return _file(found, REVALIDATE)

        router.register(docs_assets)


class LocalSwaggerPlugin(_LocalViewer):
    title = "Parley API - Swagger UI"
    body = '<div id="swagger-ui"></div>'
    registers_assets = True

    def head(self) -> str:
        return (
            '<link rel="stylesheet" href="/schema/assets/swagger-ui.css">'
            '<script src="/schema/assets/swagger-ui-bundle.js" defer></script>'
            '<script src="/schema/assets/swagger-init.js" defer></script>'
        )


class LocalScalarPlugin(_LocalViewer):
    title = "Parley API - Scalar"
    body = '<div id="app"></div>'

    def head(self) -> str:
        return (
            '<script src="/schema/assets/scalar-standalone.js" defer></script>'
            '<script src="/schema/assets/scalar-init.js" defer></script>'
        )
