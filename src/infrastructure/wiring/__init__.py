"""Wiring of each bounded context, called from ``container.py`` (one module per context)."""
