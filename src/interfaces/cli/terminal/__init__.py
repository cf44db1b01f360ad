"""The pieces of ``parley chat`` (``cli/terminal_chat.py``): the loop thread, the screen, the session."""
