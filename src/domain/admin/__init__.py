"""Admin: analytics over what was used, and the state of the running system."""
