"""Adapters of the ``ai`` context: PII validators, tool templates, moderation clients, metrics."""
