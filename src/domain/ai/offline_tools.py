"""How the offline model answers each AI tool: deterministic, no network, good enough to be useful.

- summarize: extractive: the sentences whose words are the most frequent in the text (stop words
  aside), in their original order, within ``max_words``;
- classify: a small lexicon of positive and negative words (negation flips the next words) for the
  sentiment, and keywords per category (or the words of custom labels) for the category;
- moderate: keyword rules per category (a word list and a few phrasings each).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from src.domain.ai.model import ModerationCategory, ModerationSource, ModerationVerdict

_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]*")
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
    ]
)


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD_RE.findall(text)]


def sentences_of(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.findall(text) if s.strip()]


def extractive_summary(text: str, *, max_words: int, bullets: bool) -> str:
    """The most representative sentences, in text order, at most ``max_words`` words in all."""
    sentences = sentences_of(text)
    if not sentences:
        return ""
    frequencies = Counter(w for w in words_of(text) if w not in STOP_WORDS)

    def weight(sentence: str) -> float:
        content = [w for w in words_of(sentence) if w not in STOP_WORDS]
        return sum(frequencies[w] for w in content) / math.sqrt(len(content)) if content else 0.0

    ranked = sorted(range(len(sentences)), key=lambda i: (-weight(sentences[i]), i))
    # Whole sentences, best first, as long as they fit: a long top sentence gives way to the next
    # best ones rather than crowding them out as a cut fragment.
    chosen: list[int] = []
    used = 0
    for index in ranked:
        length = len(sentences[index].split())
        if used + length > max_words:
            continue
        chosen.append(index)
        used += length
        if used >= max_words:
            break
    if not chosen:  # no sentence fits whole: the best one, cut
        return _cut_words(sentences[ranked[0]], max_words, bullets)
    picked = [sentences[i] for i in sorted(chosen)]
    return "\n".join(f"- {s}" for s in picked) if bullets else " ".join(picked)


def _cut_words(sentence: str, max_words: int, bullets: bool) -> str:
    cut = " ".join(sentence.split()[:max_words]) + "…"
    return f"- {cut}" if bullets else cut


POSITIVE = frozenset(
    [
        "good",
        "great",
        "excellent",
        "amazing",
        "awesome",
        "love",
        "loved",
        "lovely",
        "like",
        "liked",
        "enjoy",
        "enjoyed",
        "happy",
        "glad",
        "fantastic",
        "wonderful",
        "best",
        "better",
        "nice",
        "perfect",
        "pleased",
        "brilliant",
        "superb",
        "helpful",
        "recommend",
        "delighted",
        "thanks",
        "thank",
        "impressive",
        "fast",
        "easy",
        "beautiful",
        "outstanding",
        "satisfied",
        "reliable",
        "friendly",
        "works",
    ]
)
NEGATIVE = frozenset(
    [
        "bad",
        "terrible",
        "awful",
        "horrible",
        "hate",
        "hated",
        "dislike",
        "poor",
        "worst",
        "worse",
        "broken",
        "slow",
        "angry",
        "upset",
        "disappointed",
        "disappointing",
        "useless",
        "annoying",
        "rude",
        "fail",
        "failed",
        "failure",
        "problem",
        "problems",
        "bug",
        "bugs",
        "crash",
        "crashed",
        "refund",
        "wrong",
        "expensive",
        "unhappy",
        "sad",
        "never",
        "waste",
        "difficult",
        "confusing",
        "late",
        "missing",
        "damaged",
    ]
)
NEGATIONS = frozenset(
    ["not", "no", "never", "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't", "can't", "won't", "hardly"]
)

DEFAULT_CATEGORIES: Mapping[str, frozenset[str]] = {
    "billing": frozenset(
        [
            "invoice",
            "invoices",
            "bill",
            "billing",
            "charge",
            "charged",
            "payment",
            "paid",
            "refund",
            "price",
            "subscription",
        ]
    ),
    "technical": frozenset(
        ["error", "bug", "crash", "login", "password", "install", "server", "app", "api", "broken", "update", "code"]
    ),
    "shipping": frozenset(
        ["delivery", "shipping", "shipped", "package", "parcel", "order", "tracking", "courier", "arrived"]
    ),
    "account": frozenset(["account", "profile", "email", "username", "sign", "signup", "settings", "delete"]),
    "feedback": frozenset(
        ["love", "great", "suggestion", "feature", "idea", "improve", "thanks", "feedback", "review"]
    ),
    "other": frozenset(),
}


def lexicon_sentiment(text: str) -> tuple[str, dict[str, float]]:
    """``positive``, ``neutral`` or ``negative`` and the three scores (summing to 1)."""
    positive = negative = 0
    flip = 0
    for word in words_of(text):
        if word in NEGATIONS:
            flip = 3
            continue
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if flip:
            polarity, flip = -polarity, flip - 1
        positive += polarity > 0
        negative += polarity < 0
    total = positive + negative
    if total == 0:
        return "neutral", {"positive": 0.0, "neutral": 1.0, "negative": 0.0}
    lean = (positive - negative) / total
    neutral = round(1 / (1 + total), 4)
    pos = round((1 - neutral) * positive / total, 4)
    scores = {"positive": pos, "neutral": neutral, "negative": round(1 - neutral - pos, 4)}
    label = "positive" if lean > 0.2 else "negative" if lean < -0.2 else "neutral"
    return label, scores


def keyword_category(text: str, labels: Sequence[str] | None) -> list[tuple[str, float]]:
    """Scores per category, best first (ties in label order); custom labels match their own words."""
    words = Counter(words_of(text))
    keywords: Mapping[str, frozenset[str]] = (
        {label: frozenset(words_of(label)) for label in labels} if labels else DEFAULT_CATEGORIES
    )
    raw = {label: float(sum(words[k] for k in keys)) for label, keys in keywords.items()}
    total = sum(raw.values())
    if total == 0:
        fallback = "other" if "other" in raw else next(iter(raw))
        scores = {label: (1.0 if label == fallback else 0.0) for label in raw}
    else:
        scores = {label: round(value / total, 4) for label, value in raw.items()}
    order = list(raw)
    return sorted(scores.items(), key=lambda item: (-item[1], order.index(item[0])))


MODERATION_RULES: Mapping[ModerationCategory, re.Pattern[str]] = {
    ModerationCategory.HARASSMENT: re.compile(
        r"\b(?:you(?:'re| are) (?:an? )?(?:idiot|moron|loser|stupid|worthless|pathetic)|shut up|nobody likes you|"
        r"i will (?:find|hunt) you|go away and die)\b"
    ),
    ModerationCategory.HATE: re.compile(
        r"\b(?:all (?:\w+ )?(?:immigrants|muslims|jews|christians|gays|women|blacks|whites) (?:are|should)|"
        r"(?:inferior|subhuman) (?:race|people)|ethnic cleansing|go back to your country)\b"
    ),
    ModerationCategory.SELF_HARM: re.compile(
        r"\b(?:kill myself|end my life|suicide|self[- ]harm|cut myself|want to die|don't want to live)\b"
    ),
    ModerationCategory.SEXUAL: re.compile(
        r"\b(?:porn|pornographic|explicit sex|sexual acts?|nude photos|nudes|sex with)\b"
    ),
    ModerationCategory.VIOLENCE: re.compile(
        r"\b(?:i(?:'ll| will) (?:kill|hurt|shoot|stab|beat) (?:you|him|her|them)|kill (?:you|him|her|them|everyone)|"
        r"shoot (?:up|everyone)|bomb (?:the|a) |massacre|behead|torture (?:you|him|her|them))\b"
    ),
    ModerationCategory.ILLICIT: re.compile(
        r"\b(?:make (?:a )?(?:bomb|meth|explosives?)|buy (?:cocaine|heroin|meth|drugs)|launder money|"
        r"money laundering|steal (?:a |credit )?cards?|hack into|counterfeit (?:money|bills)|sell drugs)\b"
    ),
}


def rule_moderation(text: str) -> ModerationVerdict:
    """Each category scores 0.9 when one of its rules matches, else 0."""
    lowered = text.lower()
    scores = {c.value: (0.9 if rule.search(lowered) else 0.0) for c, rule in MODERATION_RULES.items()}
    return ModerationVerdict.of_scores(scores, ModerationSource.RULES)
