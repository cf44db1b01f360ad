"""Admin console use cases: analytics, moderation, audit, system status."""
