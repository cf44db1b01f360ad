"""Cache adapters: Redis (shared by every instance) and in-process memory (the embedded default)."""
