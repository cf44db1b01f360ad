"""The shipped list of common passwords, read once (``common_passwords.txt`` beside this module)."""

from __future__ import annotations

from pathlib import Path

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


class CommonPasswordList:
    """Implements ``CommonPasswords``: a membership test, case-insensitive (the list is lower-case).

    The file is read when the object is built (at start, by the container), never on a request.
    """

    def __init__(self, path: Path = COMMON_PASSWORDS_FILE) -> None:
        lines = path.read_text(encoding="utf-8").splitlines()
        self._passwords = frozenset(
            line.strip().lower() for line in lines if line.strip() and not line.startswith("# ")
        )
        if not self._passwords:
            raise ValueError(f"{path} lists no passwords")

    def __contains__(self, password: object) -> bool:
        return isinstance(password, str) and password.strip().lower() in self._passwords

    def __len__(self) -> int:
        return len(self._passwords)
