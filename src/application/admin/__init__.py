"""Admin use cases: usage, user and content analytics; system status."""
