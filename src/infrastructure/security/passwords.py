"""argon2id password hashing (pwdlib), run in a worker thread so the event loop keeps serving."""

from __future__ import annotations

import asyncio
import secrets

import argon2
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

#: The hash of a random password nobody knows, made with the default parameters. Unknown users are
#: checked against it, so that they cost what a real user costs from the very first attempt.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$pPmNbpXlocJ3TqXYIZCvcg$lOapYjysi46xXoEmvZeWWTx3Dfo42YWffwJJrrSu+20"


class Argon2PasswordHasher:
    """Implements ``PasswordHasher``. The default parameters are argon2-cffi's (RFC 9106's low-memory
    profile: 64 MiB, 3 passes, 4 lanes); tests pass cheaper ones. A stored hash made with other
    parameters still verifies, and ``verify`` then hands back a hash with the current ones."""

    def __init__(
        self, *, time_cost: int | None = None, memory_cost: int | None = None, parallelism: int | None = None
    ) -> None:
        hasher = Argon2Hasher(
            time_cost=argon2.DEFAULT_TIME_COST if time_cost is None else time_cost,
            memory_cost=argon2.DEFAULT_MEMORY_COST if memory_cost is None else memory_cost,
            parallelism=argon2.DEFAULT_PARALLELISM if parallelism is None else parallelism,
        )
        self._hash = PasswordHash((hasher,))
        # Other parameters than the default: the dummy hash is made (once) with them instead.
        self._dummy_hash: str | None = None if hasher.check_needs_rehash(DUMMY_HASH) else DUMMY_HASH

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        return await asyncio.to_thread(self._verify, password, password_hash)

    async def verify_dummy(self, password: str) -> None:
        # Against a hash with the current parameters, so it costs what a real check costs.
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        await asyncio.to_thread(self._verify, password, self._dummy_hash)

    def _verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        try:
            return self._hash.verify_and_update(password, password_hash)
        except UnknownHashError:
            # Not a hash this hasher knows (a corrupted row): it matches no password.
            return False, None
