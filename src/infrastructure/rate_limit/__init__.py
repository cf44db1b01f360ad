"""Rate limiting: GCRA on Redis (shared by every instance) or in process memory, and its policies."""
