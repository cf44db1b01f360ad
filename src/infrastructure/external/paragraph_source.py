"""Paragraph sources: a metaphorpsum-compatible HTTP service, or the offline generator.

``PARAGRAPH_SOURCE_URL`` names the service (``http://metaphorpsum.com/paragraphs/1/50`` asks for
one paragraph of 50 sentences); a GET answers the paragraph as ``text/plain``. Down (refused,
reset, DNS), slow (no whole answer within ``PARAGRAPH_SOURCE_TIMEOUT`` seconds) or garbage (not a
200, not text, not UTF-8, too large) is ``ParagraphSourceFailed``.
"""

from __future__ import annotations

import random
import re

import httpx

from src.domain.knowledge.errors import ParagraphSourceFailed
from src.infrastructure.external.http import LazyHttpClient, ResponseTooLarge
from src.infrastructure.logging import get_logger

logger = get_logger("parley.knowledge")


class HttpParagraphSource:
    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self._url = url
        self._http = LazyHttpClient(timeout=timeout)

    async def fetch(self) -> str:
        try:
            response, body = await self._http.get(self._url, accept="text/plain")
        except (TimeoutError, httpx.TimeoutException):
            raise self._failed(f"it did not answer within {self._http.timeout:g} s") from None
        except ResponseTooLarge as exc:
            raise self._failed(f"it answered {exc}") from None
        except httpx.HTTPError as exc:
            raise self._failed(f"it could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise self._failed(f"it answered HTTP {response.status_code}")
        media_type = response.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
        if media_type != "text/plain":
            raise self._failed(f"it answered {media_type}, not text/plain")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise self._failed("its answer is not UTF-8 text") from None

    def _failed(self, why: str) -> ParagraphSourceFailed:
        logger.warning("paragraph_source_failed", reason=why)
        return ParagraphSourceFailed(f"The paragraph source failed: {why}; nothing was stored")

    async def aclose(self) -> None:
        await self._http.aclose()


_NOUNS = (  # noqa: SIM905 - word lists read better as text
    "apple bird book bridge candle cat cloud coat coffee comb country cow crayon dinosaur dog dress "
    "drum duck eagle egg engine feather fish flower forest fox frog garden giraffe glass goat grape "
    "guitar hammer harbor horse island jacket kettle kite ladder lamp lemon lion lizard map market "
    "mirror monkey moon mountain needle ocean orange owl pancake pear pencil piano pig plane plant "
    "pumpkin rabbit river road rocket rose sailboat sandwich scarf sheep shoe snail snake spider "
    "spoon squirrel star stone sun swan table teapot tiger tomato tooth tower train tree trumpet "
    "turtle umbrella violin wave whale window wolf zebra"
).split()
_ADJECTIVES = (  # noqa: SIM905 - word lists read better as text
    "ablaze aboard abstract acrid adroit afraid ageless airy amber ample antique arctic ashen august "
    "balmy barren bashful blithe bony brassy brazen brittle bronze bubbly candid careful chalky "
    "cheery civic clammy coral cosmic crafty crimson crusty curly dainty dapper deft dewy dizzy "
    "dusky eager earthen elfin elder fabled feisty fickle fiery flinty frosty fussy gallant gauzy "
    "gentle giddy glassy gleeful grassy hasty hearty hollow humble icy idle jaunty jolly kindly "
    "leafy lofty lucid lusty mellow misty moody nimble noble oaken obtuse pallid plucky quaint "
    "quiet rustic sable scaly serene shaggy silken sleepy smoky solemn spiky stately sunken tawny "
    "tidal timid tranquil twiggy unkempt velvet vivid wary waxen weary windy wintry witty zesty"
).split()
_TEMPLATES = (
    "A {noun} is a {noun2} from the right perspective.",
    "The {noun} of a {noun2} becomes a {adjective} {noun3}.",
    "Some {adjective} {nouns} are thought of simply as {noun2s}.",
    "Their {noun} was, in this moment, a {adjective} {noun2}.",
    "One cannot separate {nouns} from {adjective} {noun2s}.",
    "A {adjective} {noun} without {noun2s} is truly a {noun3} of {adjective2} {noun4s}.",
    "The first {adjective} {noun} is, in its own way, a {noun2}.",
    "We know that a {noun} is a {noun2}'s {noun3}.",
    "It's an undeniable fact, really; a {noun} is the {noun2} of a {noun3}.",
    "Those {nouns} are nothing more than {noun2s}.",
    "Extending this logic, the {noun} of a {noun2} becomes a {adjective} {noun3}.",
    "Authors often misinterpret the {noun} as a {adjective} {noun2}, when in actuality it feels more like a "
    "{adjective2} {noun3}.",
    "Don't forget that the {noun} is a {noun2}.",
    "If this was somewhat unclear, a {noun} can hardly be considered a {adjective} {noun2} without also being a "
    "{noun3}.",
)


_ARTICLE = re.compile(r"\b([Aa]) (?=[aeiou])")


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def metaphor_sentence(rng: random.Random) -> str:
    template = rng.choice(_TEMPLATES)
    words = {f"noun{n}": rng.choice(_NOUNS) for n in ("", "2", "3", "4")}
    words.update({f"{name}s": _plural(noun) for name, noun in list(words.items())})
    words.update({"adjective": rng.choice(_ADJECTIVES), "adjective2": rng.choice(_ADJECTIVES)})
    return _ARTICLE.sub(r"\1n ", template.format(**words))


def metaphor_paragraph(rng: random.Random, sentences: int) -> str:
    """A paragraph in metaphorpsum's manner: ``sentences`` sentences of metaphors."""
    return " ".join(metaphor_sentence(rng) for _ in range(sentences))


class OfflineParagraphSource:
    """Metaphorpsum-style paragraphs made up locally: no network, never fails."""

    def __init__(self, *, sentences: int = 5, seed: int | None = None) -> None:
        self._sentences = sentences
        self._rng = random.Random(seed)  # noqa: S311 - filler text, not security

    async def fetch(self) -> str:
        return metaphor_paragraph(self._rng, self._sentences)

    async def aclose(self) -> None:
        """Nothing to close."""
