"""Security adapters: password hashing, access tokens, opaque secrets, the common-password list."""
