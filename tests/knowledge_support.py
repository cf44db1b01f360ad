"""The reference paragraphs service's semantics, written the straightforward way, and random texts.

The reference matched a search word with PostgreSQL's ``content ~* '\\yword\\y'``; Python's ``\\b`` is
the same boundary (between a word character, letter, digit or underscore, and anything else), so
``reference_matches`` is that regex, case-insensitive. Parley's index must give the same answers;
the tests compare the two on the same texts.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence

#: Words, parts of words and look-alikes, so that random texts hold near misses ("one", "none",
#: "someone", "one_two", "don't", "don", "t") as well as matches.
VOCABULARY = (  # noqa: SIM905
    "one none someone ones once two three the then they them a an and sand don't don t it's its it s "
    "rock'n'roll rock n roll o'clock clock café cafe naïve ümlaut x2 2x 42 one_two snake_case 'tis tis "
    "won't won wo ONE One oNe The THE Don't DON'T ’tis don’t it’s"
).split()
SEPARATORS = (" ", " ", " ", ", ", ". ", "; ", "-", "—", "'", "''", "’", "\n", " (", ") ", "_", "/", '"', "!")
#: Search words: whole words, parts, apostrophe forms and case variants.
QUERY_WORDS = (  # noqa: SIM905
    "one none someone ONE two the a an don't don t it's s it rock'n'roll rock'n n'roll roll o'clock clock "
    "café cafe naïve x2 42 'tis tis won't won ' '' ’ don’t it’s n't two's one's"
).split()


def reference_matches(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def reference_search(texts: Sequence[str], words: Sequence[str], operator: str) -> list[int]:
    """Indexes of the texts that match, in order."""
    combine = all if operator == "and" else any
    return [i for i, text in enumerate(texts) if combine(reference_matches(text, w) for w in words)]


def reference_counts(texts: Sequence[str]) -> Counter[str]:
    """Every word (a run of word characters a search word could be: no underscore), lower-cased."""
    return Counter(w for t in texts for w in re.findall(r"\w+", t.lower()) if "_" not in w and len(w) <= 50)


def random_text(rng: random.Random, *, words: int = 12) -> str:
    parts = []
    for _ in range(rng.randint(1, words)):
        parts.append(rng.choice(VOCABULARY))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts).strip() or "one"


def random_query(rng: random.Random) -> list[str]:
    return rng.sample(QUERY_WORDS, rng.randint(1, 3))
