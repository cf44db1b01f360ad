"""The names of the knowledge context's background jobs, which its use cases queue through the outbox."""

from __future__ import annotations

#: The background job that recomputes the dictionary's cached levels after a fetch.
REFRESH_DICTIONARY_JOB = "refresh_dictionary"
