"""The ``ai`` context: small AI tools (summarize, classify, moderate, generate) and the safety scanners."""
