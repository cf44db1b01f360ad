"""Chat: conversations, messages, context windows and titles."""
