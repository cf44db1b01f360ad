"""Admin console: analytics, moderation, audit, system status."""
