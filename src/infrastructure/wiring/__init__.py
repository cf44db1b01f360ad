"""Wiring of each bounded context or front door, called from ``container.py`` (one module each)."""
