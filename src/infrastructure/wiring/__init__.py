"""Wiring of one front door's or feature's use cases, called from ``container.py`` in one line."""
