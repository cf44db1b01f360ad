"""Use cases of the ``chat`` context: conversations, messages and streamed replies."""
