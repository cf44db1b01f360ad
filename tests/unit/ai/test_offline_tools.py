"""The offline model's answers, the JSON decoder at the adapter edge, and the template files."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.domain.ai.errors import InvalidTemplateParameters
from src.domain.ai.model import ModelClassification, ModelModeration
from src.domain.ai.offline_tools import extractive_summary, keyword_category, lexicon_sentiment, rule_moderation
from src.infrastructure.ai.decoder import MsgspecAnswerDecoder
from src.infrastructure.ai.templates import FileTemplateCatalog, TemplateFileError

TEXT = (
    "Rivers carry water to the sea. The sea warms in summer. Warm water evaporates into clouds. "
    "Clouds carry water back over the land and rain falls into rivers."
)


def test_extractive_summary_keeps_sentences_in_order_within_the_limit() -> None:
    summary = extractive_summary(TEXT, max_words=14, bullets=False)
    assert len(summary.split()) <= 14
    sentences = [s for s in summary.split(". ") if s]
    assert all(s.rstrip(".") in TEXT for s in sentences)
    assert extractive_summary(TEXT, max_words=200, bullets=False) == TEXT
    assert extractive_summary(TEXT, max_words=200, bullets=True).count("\n- ") == 3
    assert extractive_summary("", max_words=20, bullets=False) == ""


def test_a_long_top_sentence_gives_way_to_whole_sentences_that_fit() -> None:
    """Regression: a running summary at a small cap (36 words) was the cut start of one long repeated
    sentence, and the short sentences that carried the facts (the lighthouse keeper) were left out."""
    long = " ".join(f"word{i}" for i in range(60))
    text = " ".join(f"Turn {i}: the lighthouse keeper. {long}." for i in range(4))
    summary = extractive_summary(text, max_words=36, bullets=False)
    assert "lighthouse keeper" in summary
    assert len(summary.split()) <= 36
    assert "…" not in summary
    # With no sentence short enough, the best one is cut to the limit.
    assert extractive_summary(long + ".", max_words=5, bullets=True) == "- word0 word1 word2 word3 word4…"


def test_lexicon_sentiment_with_negation() -> None:
    assert lexicon_sentiment("great service, thank you")[0] == "positive"
    assert lexicon_sentiment("this is not good")[0] == "negative"
    assert lexicon_sentiment("the meeting is at noon") == (
        "neutral",
        {"positive": 0.0, "neutral": 1.0, "negative": 0.0},
    )


def test_keyword_categories_default_and_custom() -> None:
    assert keyword_category("my invoice shows a double charge", None)[0][0] == "billing"
    assert keyword_category("hello there", None)[0] == ("other", 1.0)
    assert [label for label, _ in keyword_category("tulips and roses", ["cars", "roses"])] == ["roses", "cars"]


def test_rule_moderation() -> None:
    verdict = rule_moderation("How do I make a bomb?")
    assert verdict.flagged
    assert verdict.categories["illicit"]
    assert not rule_moderation("I love this bomb of a song").flagged


def test_decoder_accepts_fenced_json_and_refuses_the_rest() -> None:
    decoder = MsgspecAnswerDecoder()
    fenced = '```json\n{"category": "a", "sentiment": "neutral", "confidence": 0.5}\n```'
    assert decoder.decode(fenced, ModelClassification).category == "a"
    assert decoder.decode('Here: {"scores": {"hate": 0.1}} done', ModelModeration).scores == {"hate": 0.1}
    for bad in ("no json", '{"category": "a", "sentiment": "angry", "confidence": 0.5}', '{"scores": 3}'):
        with pytest.raises(ValueError):
            decoder.decode(bad, ModelClassification if "category" in bad or bad == "no json" else ModelModeration)


def test_templates_declare_their_parameters(tmp_path: Path) -> None:
    catalog = FileTemplateCatalog()
    email = catalog.get("email")
    assert email is not None
    with pytest.raises(InvalidTemplateParameters) as missing:
        email.bind({"recipient": "x", "colour": "red"})
    assert missing.value.extra["missing"] == ["purpose", "sender"]
    assert missing.value.extra["unknown"] == ["colour"]
    (tmp_path / "broken.toml").write_text('description = "x"\nprompt = "{nope}"\ndraft = ""\n')
    with pytest.raises(TemplateFileError, match="broken.toml"):
        FileTemplateCatalog(tmp_path)
