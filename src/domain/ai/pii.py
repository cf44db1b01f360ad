"""Personal data in text: what was found where, placeholders that hide it, and putting it back.

The recognizers here need nothing but the standard library: e-mail addresses, IP addresses, payment
card numbers (Luhn-valid only: a 16-digit number failing the check is not a card), IBANs (length of
their country and the ISO 7064 mod-97 check) and secrets shaped like API keys. Phone numbers and
national ids need the numbering plans and checksums of a library: their recognizers are adapters
(``application/ai/ports.py: PiiRecognizer``). ``resolve_overlaps`` keeps one finding per stretch of text.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field


class PiiType(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"
    IP_ADDRESS = "ip_address"
    NATIONAL_ID = "national_id"
    SECRET = "secret"  # noqa: S105 (the name of a kind of data, not a password)

    @property
    def placeholder_name(self) -> str:
        return self.value.upper()


#: When two findings overlap, the more specific one wins (a secret holding digits is not a card).
PRIORITY: dict[PiiType, int] = {
    PiiType.SECRET: 0,
    PiiType.EMAIL: 1,
    PiiType.IBAN: 2,
    PiiType.CARD: 3,
    PiiType.NATIONAL_ID: 4,
    PiiType.PHONE: 5,
    PiiType.IP_ADDRESS: 6,
}


@dataclass(frozen=True, slots=True)
class PiiMatch:
    type: PiiType
    start: int
    end: int
    value: str


def resolve_overlaps(matches: Iterable[PiiMatch]) -> list[PiiMatch]:
    """One finding per stretch of text, in text order: the higher priority, then the longer, wins."""
    ranked = sorted(matches, key=lambda m: (PRIORITY[m.type], -(m.end - m.start), m.start))
    kept: list[PiiMatch] = []
    for match in ranked:
        if all(match.end <= k.start or match.start >= k.end for k in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


# -- the standard-library recognizers -------------------------------------------------------------

# Patterns start with a character class (no look-behind) so the regex engine skips ahead quickly;
# what may not come before a match is checked by ``_starts_clean``.
#: The local part is matched from the "@" backwards (``_email_start``): a regex scanning every letter
#: as a possible start is the costly way.
EMAIL_DOMAIN_RE = re.compile(r"@((?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24})\b")
EMAIL_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
IPV4_RE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.]*\d)")
IPV6_RE = re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:(?:[0-9A-Fa-f]{0,4}:){0,5}[0-9A-Fa-f]{0,4}(?![\w:])")
#: 13 to 19 digits, optionally grouped by single spaces or dashes.
CARD_RE = re.compile(r"\d(?:[ -]?\d){12,18}(?![\w-])")
IBAN_RE = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
SECRET_RE = re.compile(
    r"(?:"
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|sk_(?:live|test)_[A-Za-z0-9]{20,}"  # Stripe
    r"|rk_(?:live|test)_[A-Za-z0-9]{20,}"
    r"|gsk_[A-Za-z0-9]{20,}"  # Groq
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|pk_[A-Za-z0-9_-]{32,}"  # Parley's own API keys
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"
    r")"
)

#: IBAN lengths by country (the ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    """Right length for its country and the mod-97 check equals 1 (ISO 13616)."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _starts_clean(text: str, start: int, forbidden: str) -> bool:
    """Nothing of ``forbidden`` (letters and digits when it holds ``w``) just before ``start``."""
    if start == 0:
        return True
    before = text[start - 1]
    return not (("w" in forbidden and (before.isalnum() or before == "_")) or before in forbidden.replace("w", ""))


def find_emails(text: str) -> Iterator[PiiMatch]:
    at = text.find("@")
    if at == -1:
        return
    for m in EMAIL_DOMAIN_RE.finditer(text, at):
        start = m.start()
        while start > 0 and text[start - 1] in EMAIL_LOCAL_CHARS and m.start() - start < 64:
            start -= 1
        while start < m.start() and not text[start].isalnum():
            start += 1  # a local part starts with a letter or digit
        if start < m.start():
            yield PiiMatch(PiiType.EMAIL, start, m.end(), text[start : m.end()])


def find_ip_addresses(text: str) -> Iterator[PiiMatch]:
    if "." in text:
        for m in IPV4_RE.finditer(text):
            if _starts_clean(text, m.start(), ".w") and all(int(part) <= 255 for part in m.group().split(".")):
                yield PiiMatch(PiiType.IP_ADDRESS, m.start(), m.end(), m.group())
    if "::" in text or text.count(":") >= 7:
        for m in IPV6_RE.finditer(text):
            candidate = m.group()
            if (
                not _starts_clean(text, m.start(), ":w")
                or candidate.count(":") < 2
                or not any(c.isalnum() for c in candidate)
            ):
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield PiiMatch(PiiType.IP_ADDRESS, m.start(), m.end(), candidate)


def find_cards(text: str) -> Iterator[PiiMatch]:
    for m in CARD_RE.finditer(text):
        candidate = m.group()
        digits = candidate.replace(" ", "").replace("-", "")
        if _starts_clean(text, m.start(), "-w") and 13 <= len(digits) <= 19 and luhn_valid(digits):
            yield PiiMatch(PiiType.CARD, m.start(), m.end(), candidate)


def find_ibans(text: str) -> Iterator[PiiMatch]:
    for m in IBAN_RE.finditer(text):
        candidate = m.group()
        if _starts_clean(text, m.start(), "w") and iban_valid(candidate.replace(" ", "")):
            yield PiiMatch(PiiType.IBAN, m.start(), m.end(), candidate)


def find_secrets(text: str) -> Iterator[PiiMatch]:
    for m in SECRET_RE.finditer(text):
        if _starts_clean(text, m.start(), "-w"):
            yield PiiMatch(PiiType.SECRET, m.start(), m.end(), m.group())


DIGIT_PAIR_RE = re.compile(r"\d\d")
DIGITS = "0123456789"
#: Every secret shape of ``SECRET_RE`` starts with one of these: when none is in the text, the
#: expression (an alternation tried at every position) is not run at all.
SECRET_TRIGGERS = (
    "sk-", "sk_", "rk_", "AIza", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    "glpat-", "xox", "pk_", "eyJ", "-----BEGIN ",
)  # fmt: skip


def has_digits(text: str) -> bool:
    """Whether any ASCII digit is in ``text``: ten substring searches in C, far cheaper than a regex
    over the text, and most prose has none."""
    return any(digit in text for digit in DIGITS)


def find_standard_pii(text: str) -> list[PiiMatch]:
    """Every finding of the standard-library recognizers (overlaps not yet resolved). Each runs only
    when its trigger characters are in the text (``@``, a secret's prefix, two digits in a row)."""
    found: list[PiiMatch] = []
    if any(trigger in text for trigger in SECRET_TRIGGERS):
        found.extend(find_secrets(text))
    found.extend(find_emails(text))
    if has_digits(text) and DIGIT_PAIR_RE.search(text):
        found.extend(find_ibans(text))
        found.extend(find_cards(text))
        found.extend(find_ip_addresses(text))
    return found


# -- placeholders ---------------------------------------------------------------------------------

PLACEHOLDER_RE = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN|IP_ADDRESS|NATIONAL_ID|SECRET)_\d+\]")


@dataclass(frozen=True, slots=True)
class Redaction:
    """``text`` with each finding replaced by a placeholder (``[EMAIL_1]``); the same value gets the same one."""

    text: str
    #: placeholder -> the original value it hides.
    originals: Mapping[str, str] = field(default_factory=dict)
    found: tuple[PiiMatch, ...] = ()


class Redactor:
    """Numbers placeholders across several texts (a whole prompt): the same value, the same placeholder."""

    def __init__(self) -> None:
        self._counters: dict[PiiType, int] = {}
        self._by_value: dict[tuple[PiiType, str], str] = {}
        self.originals: dict[str, str] = {}

    def redact(self, text: str, matches: Sequence[PiiMatch]) -> str:
        """Replace ``matches`` (non-overlapping, in text order) by numbered placeholders per type."""
        parts: list[str] = []
        cursor = 0
        for match in matches:
            key = (match.type, match.value)
            placeholder = self._by_value.get(key)
            if placeholder is None:
                self._counters[match.type] = self._counters.get(match.type, 0) + 1
                placeholder = f"[{match.type.placeholder_name}_{self._counters[match.type]}]"
                self._by_value[key] = placeholder
                self.originals[placeholder] = match.value
            parts.append(text[cursor : match.start])
            parts.append(placeholder)
            cursor = match.end
        parts.append(text[cursor:])
        return "".join(parts)


def redact(text: str, matches: Sequence[PiiMatch]) -> Redaction:
    """Replace ``matches`` (non-overlapping, in text order) by numbered placeholders per type."""
    if not matches:
        return Redaction(text)
    redactor = Redactor()
    return Redaction(redactor.redact(text, matches), redactor.originals, tuple(matches))


def mask_by_type(text: str, matches: Sequence[PiiMatch]) -> str:
    """Each finding replaced by its type alone (``[EMAIL]``): nothing to restore, nothing to confuse
    with the numbered placeholders of a redacted prompt."""
    parts: list[str] = []
    cursor = 0
    for match in matches:
        parts.append(text[cursor : match.start])
        parts.append(f"[{match.type.placeholder_name}]")
        cursor = match.end
    parts.append(text[cursor:])
    return "".join(parts)


def restore(text: str, originals: Mapping[str, str]) -> str:
    """Put the originals back where their placeholders appear (placeholders the model made up stay)."""
    if not originals or "[" not in text:
        return text
    return PLACEHOLDER_RE.sub(lambda m: originals.get(m.group(), m.group()), text)


def mask(text: str, matches: Sequence[PiiMatch]) -> str:
    """``text`` with each finding replaced by its type's placeholder, nothing kept to restore it."""
    return redact(text, matches).text
