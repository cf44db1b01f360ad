"""PII recognizers that need a library: phone numbers (``phonenumbers``) and national ids (``python-stdnum``).

Both find candidates with a cheap regular expression first and ask the library only about those: a
phone number written in international form (``+`` or ``00`` and a country code) that the numbering
plan of its country accepts, and national ids in the formats below whose checksum (and date, where
the id holds one) the library accepts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

import phonenumbers
from stdnum.br import cpf
from stdnum.cn import ric
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.se import personnummer
from stdnum.us import ssn

from src.domain.ai.pii import PiiMatch, PiiType, has_digits

#: "+" or "00", a country code, then digits in groups (spaces, dashes, dots, brackets).
PHONE_RE = re.compile(r"(?:\+|00)[1-9](?:[ .\-()]{0,2}\d){6,16}")
MIN_PHONE_DIGITS = 7


class PhoneNumberRecognizer:
    def find(self, text: str) -> Iterator[PiiMatch]:
        if "+" not in text and "00" not in text:
            return
        for m in PHONE_RE.finditer(text):
            start = m.start()
            if start and (text[start - 1].isalnum() or text[start - 1] in "+-"):
                continue
            candidate = m.group()
            # The expression is greedy: a number followed by more digits is retried one group shorter.
            while sum(c.isdigit() for c in candidate) >= MIN_PHONE_DIGITS:
                if self._valid(candidate):
                    yield PiiMatch(PiiType.PHONE, start, start + len(candidate), candidate)
                    break
                cut = max(candidate.rfind(sep) for sep in " .-()")
                if cut <= 1:
                    break
                candidate = candidate[:cut].rstrip(" .-(")

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def _valid(candidate: str) -> bool:
        """Cached: a streamed reply's holdback rescans the same number at every delta, and parsing
        against the numbering plans is the costly part of the scan."""
        international = "+" + candidate[2:] if candidate.startswith("00") else candidate
        try:
            number = phonenumbers.parse(international, None)
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.is_valid_number(number)


#: (format, validator, triggers): the formats are specific enough that a valid checksum means an id.
#: A format runs only when one of its ``triggers`` is in the text (empty: always); every format holds
#: three digits in a row, so a text without them skips them all.
NATIONAL_IDS: tuple[tuple[re.Pattern[str], Callable[[str], bool], tuple[str, ...]], ...] = (
    (re.compile(r"\d{3}-\d{2}-\d{4}(?![\w-])"), ssn.is_valid, ("-",)),  # US social security number
    (re.compile(r"\d{3}\.\d{3}\.\d{3}-\d{2}(?!\w)"), cpf.is_valid, (".",)),  # Brazil CPF
    (re.compile(r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}(?!\w)"), nir.is_valid, ()),  # France
    (re.compile(r"\d{8}-?[A-Z](?!\w)"), dni.is_valid, ()),  # Spain DNI
    (re.compile(r"[XYZ]-?\d{7}-?[A-Z](?!\w)"), nie.is_valid, ("X", "Y", "Z")),  # Spain NIE
    (re.compile(r"[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z](?!\w)"), codicefiscale.is_valid, ()),  # Italy
    (re.compile(r"\d{6}[-+A]\d{3}[0-9A-Y](?!\w)"), hetu.is_valid, ("-", "+", "A")),  # Finland
    (re.compile(r"\d{6}[-+]\d{4}(?![\w-])"), personnummer.is_valid, ("-", "+")),  # Sweden
    (re.compile(r"\d{4} \d{4} \d{4}(?![\w ]\d)"), aadhaar.is_valid, (" ",)),  # India Aadhaar
    (re.compile(r"\d{17}[\dX](?!\w)"), ric.is_valid, ()),  # China resident id
)
_THREE_DIGITS = re.compile(r"\d\d\d")


class NationalIdRecognizer:
    def find(self, text: str) -> Iterator[PiiMatch]:
        if not has_digits(text) or not _THREE_DIGITS.search(text):
            return
        for pattern, is_valid, triggers in NATIONAL_IDS:
            if triggers and not any(trigger in text for trigger in triggers):
                continue
            for m in pattern.finditer(text):
                start = m.start()
                if start and (text[start - 1].isalnum() or text[start - 1] in "-."):
                    continue
                if is_valid(m.group()):
                    yield PiiMatch(PiiType.NATIONAL_ID, start, m.end(), m.group())
