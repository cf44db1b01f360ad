"""The PII scanner's pre-filters: a recognizer runs only when its trigger characters are in the text,
and the triggers never hide a finding (every secret shape starts with one of them)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from src.domain.ai import pii
from src.domain.ai.pii import SECRET_TRIGGERS, PiiMatch, PiiType, find_standard_pii, has_digits
from src.infrastructure.ai import pii_recognizers
from src.infrastructure.ai.pii_recognizers import NationalIdRecognizer

PROSE = "The water cycle describes how water evaporates from oceans and condenses into clouds. " * 20

SECRETS = [
    "sk-proj-" + "a" * 30,
    "sk-ant-" + "b" * 30,
    "sk_live_" + "c" * 24,
    "rk_test_" + "d" * 24,
    "gsk_" + "e" * 24,
    "AIza" + "f" * 35,
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "ASIA" + "ABCDEFGHIJKLMNOP",
    "ghp_" + "g" * 36,
    "ghs_" + "h" * 36,
    "github_pat_" + "i" * 40,
    "glpat-" + "j" * 20,
    "xoxb-" + "k" * 12,
    "pk_" + "l" * 32,
    "eyJabcdefghij.eyJabcdefghij.abcdefghij",
    "-----BEGIN RSA PRIVATE KEY-----",
]


def refuse(_: str) -> Iterator[PiiMatch]:
    raise AssertionError("this recognizer should not run on a text without its trigger characters")


def test_prose_without_triggers_runs_no_secret_or_number_recognizer(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("find_secrets", "find_ibans", "find_cards", "find_ip_addresses"):
        monkeypatch.setattr(pii, name, refuse)
    assert find_standard_pii(PROSE) == []


def test_national_id_formats_do_not_run_on_a_text_without_three_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refusing:
        def finditer(self, text: str) -> Iterator[re.Match[str]]:
            raise AssertionError("no national-id format should run")

    monkeypatch.setattr(
        pii_recognizers, "NATIONAL_IDS", tuple((Refusing(), v, t) for _, v, t in pii_recognizers.NATIONAL_IDS)
    )
    assert list(NationalIdRecognizer().find(PROSE + " room 12, floor 4")) == []


@pytest.mark.parametrize("secret", SECRETS)
def test_every_secret_shape_starts_with_a_trigger_and_is_found(secret: str) -> None:
    assert any(trigger in secret for trigger in SECRET_TRIGGERS)
    found = find_standard_pii(f"my key is {secret} thanks")
    assert [(m.type, m.value) for m in found] == [(PiiType.SECRET, secret)]


def test_has_digits() -> None:
    assert not has_digits(PROSE)
    assert has_digits("call me at 9")
    assert not has_digits("")


def test_national_ids_still_found_behind_their_triggers() -> None:
    found = list(NationalIdRecognizer().find("SSN 536-90-4399 and CPF 390.533.447-05."))
    assert [m.value for m in found] == ["536-90-4399", "390.533.447-05"]
