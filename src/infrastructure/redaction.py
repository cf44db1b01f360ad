"""Secrets out of what Parley prints: URL passwords and secret-looking query values.

Used by ``parley config show`` (every URL setting) and by the logs (access lines, whatever a library
logs with a URL in it). A query parameter is secret-looking when its name says so: it contains
``token``, ``key``, ``secret``, ``pass``, ``pwd``, ``auth``, ``sig``, ``credential``, ``session`` or
``code`` (``?apikey=``, ``?access_token=``, ``?X-Amz-Signature=``, ``?client_secret=``, ...).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "****"

_SECRET_NAME = re.compile(r"token|key|secret|pass|pwd|auth|sig|credential|session|code", re.IGNORECASE)
#: ``name=value`` after ``?`` or ``&``, up to the next ``&``, ``#``, space or quote.
_QUERY_PAIR = re.compile(r"(?P<lead>[?&])(?P<name>[^=&#\s\"']+)=(?P<value>[^&#\s\"']*)")


def is_secret_name(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def redact_query_values(text: str) -> str:
    """``text`` with the value of every secret-looking query parameter masked (anywhere in it: a
    whole URL, a path with its query, an access-log line)."""
    if "=" not in text:
        return text

    def masked(match: re.Match[str]) -> str:
        if not match.group("value") or not is_secret_name(match.group("name")):
            return match.group(0)
        return f"{match.group('lead')}{match.group('name')}={MASK}"

    return _QUERY_PAIR.sub(masked, text)


def mask_url(url: str) -> str:
    """``scheme://user:****@host/db?apikey=****``: the password and secret-looking query values never
    leave the process."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL after all (an unbalanced "[" in the host, say): mask its query only
        return redact_query_values(url)
    if password is not None:
        netloc = parts.netloc.replace(f":{password}@", f":{MASK}@", 1)
        url = parts._replace(netloc=netloc).geturl()
    return redact_query_values(url)
