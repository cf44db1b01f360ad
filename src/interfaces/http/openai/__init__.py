"""The OpenAI-compatible front door (``/v1``): the OpenAI API's shapes over Parley's use cases.

See docs/GATEWAY.md. ``gateway.py`` is the ASGI app, ``schemas.py`` the wire format, ``errors.py`` this
front door's table of error codes, ``streaming.py`` the SSE relay.
"""
