"""Print Parley's OpenAPI document, built from the app factory without starting a server.

`make web-client` feeds it to openapi-typescript to generate the web app's typed client.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from litestar._openapi.plugin import OpenAPIPlugin
from litestar.serialization import encode_json

from src.infrastructure.settings import load_settings
from src.interfaces.http.app import create_app


def main() -> None:
    with tempfile.TemporaryDirectory() as var_dir:
        # A clean environment: nothing of the developer's .env changes the document.
        settings = load_settings({"PARLEY_VAR_DIR": var_dir, "LOG_LEVEL": "ERROR"}, env_file=None)
        # The document as /schema/openapi.json serves it: completed with the error answers and the /v1
        # gateway (src/interfaces/http/openapi.py), not Litestar's raw one.
        document = create_app(settings).plugins.get(OpenAPIPlugin).provide_openapi_schema()
    out = encode_json(document, serializer=None) + b"\n"
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_bytes(out)
    else:
        sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
