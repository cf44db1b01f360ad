"""Clients of services outside Parley: the paragraph source and the dictionary service."""
