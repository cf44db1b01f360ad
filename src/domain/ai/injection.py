# ruff: noqa: RUF001 -- the phrasings are in other scripts on purpose (full-width punctuation, dotless i).
"""Prompt-injection scanner: does this text try to take over the model that will read it?

It looks for known phrasings (instruction overrides in several languages, role-play jailbreaks,
system-prompt extraction, forged role markers) and sees through the usual disguises: zero-width and
homoglyph characters, letters spaced apart, base64 and rot13 payloads. A disguise alone weighs a
little; a disguise hiding one of the phrasings weighs a lot.

Each rule has a few trigger words checked with ``in`` (fast) before its regular expression runs, so a
plain 2,000-character message costs a handful of substring searches. Scores combine as independent
evidence (``1 - prod(1 - weight)``); ``flagged`` is a score of at least ``FLAG_THRESHOLD``.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

FLAG_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class InjectionVerdict:
    flagged: bool
    score: float
    #: Stable codes: ``instruction_override``, ``role_play_jailbreak``, ``system_prompt_extraction``,
    #: ``role_marker``, ``new_instructions``, ``obfuscation_zero_width``, ``obfuscation_homoglyph``,
    #: ``obfuscation_spaced_letters``, ``obfuscation_base64``, ``obfuscation_rot13``.
    reasons: tuple[str, ...]


CLEAN = InjectionVerdict(False, 0.0, ())


@dataclass(frozen=True, slots=True)
class Rule:
    """Every match of ``pattern`` holds one of ``anchors`` (plain substrings, rare in ordinary text): the
    pattern is only searched around their occurrences (``before`` and ``after`` characters), so text
    without any anchor costs a few substring searches."""

    reason: str
    weight: float
    anchors: tuple[str, ...]
    pattern: re.Pattern[str]
    before: int
    after: int

    def matches(self, text: str, present: frozenset[str] | None = None) -> bool:
        """``present``: the anchors known to occur in ``text`` (the others are not looked for)."""
        windows: list[tuple[int, int]] = []
        for anchor in self.anchors:
            if present is not None and anchor not in present:
                continue
            # Scripts written without spaces between words (CJK) have no word starts to check.
            wordlike = anchor[0].isalpha() and anchor[0] < "\u3000"
            index = text.find(anchor)
            while index != -1:
                # An anchor inside a word ("stan" in "understand") is no occurrence.
                if not (wordlike and index and text[index - 1].isalpha()):
                    windows.append((max(0, index - self.before), index + len(anchor) + self.after))
                index = text.find(anchor, index + len(anchor))
        if not windows:
            return False
        windows.sort()
        search = self.pattern.search
        start, end = windows[0]
        for low, high in windows[1:]:
            if low <= end:
                end = max(end, high)
                continue
            if search(text, start, end) is not None:
                return True
            start, end = low, high
        return search(text, start, end) is not None


_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|forget|bypass|override|overrule|skip|discard|abandon|neglect|"
    r"set aside|throw out|pay no (?:attention|heed) to|(?:do not|don't|dont|stop|never) (?:follow|obey)(?:ing)?)"
)
_OVERRIDE_OBJECT = (
    r"(?:instructions?|prompts?|rules?|directives?|guidelines|guardrails|restrictions|constraints|commands|"
    r"orders|programming|policies|polic(?:y|ies)|safety (?:rules|guidelines|filters)|system message|context)"
)
# "all previous instructions", "the above rules", "your system prompt"; not "my previous instructions"
# (a user taking back their own request is no attack).
_OVERRIDE = re.compile(
    _OVERRIDE_VERB
    + r"\s+(?:(?:all|any|every|each|of|the|these|those|your|its|such|previous|prior|above|earlier|preceding|"
    r"former|original|initial|foregoing|old|existing|current|system|developer|safety|hidden|given|other|content|"
    r"and|everything|you(?:'ve| have)? (?:been )?(?:given|received|told)|that|were)[\s,]+){1,6}"
    + _OVERRIDE_OBJECT
    + r"|"
    + _OVERRIDE_VERB
    + r"\s+(?:everything|all)\s+(?:above|before|you (?:were|have been) told|prior)"
    + r"|"
    + _OVERRIDE_VERB
    + r"\s+(?:all of |everything |all |the )?(?:above|previous|prior)(?:\s+(?:text|messages?|content))?"
    r"\s*(?:[.,;:!]|and\b|then\b|$)"
)

_MULTILINGUAL = re.compile(
    # French
    r"(?:ignore[zr]?|oublie[zr]?|ne tiens? pas compte d?e?s?)\s+(?:\w+\s+){0,3}(?:instructions|consignes|règles|"
    r"directives)\s+(?:précédentes|antérieures|ci-dessus|initiales|du système)"
    r"|(?:ignore[zr]?|oublie[zr]?)\s+(?:toutes\s+)?(?:tes|vos|les)\s+(?:instructions|consignes|règles)"
    # Spanish / Portuguese / Italian
    r"|(?:ignora|olvida|omite|ignore|olvide|desobedece|esqueça|esqueca|desconsidere|dimentica)\s+(?:\w+\s+){0,3}"
    r"(?:instrucciones|indicaciones|reglas|instruções|instrucoes|regras|istruzioni|regole)"
    r"(?:\s+(?:anteriores|previas|precedentes|precedenti|previe|del sistema|do sistema|di sistema))?"
    # German
    r"|(?:ignoriere|ignorier|ignorieren sie|vergiss|vergessen sie|missachte)\s+(?:\w+\s+){0,3}"
    r"(?:anweisungen|regeln|instruktionen|vorgaben|befehle|richtlinien)"
    # Dutch / Polish / Turkish / Swedish
    r"|(?:negeer|vergeet)\s+(?:\w+\s+){0,3}(?:instructies|regels|opdrachten)"
    r"|(?:zignoruj|zapomnij)\s+(?:\w+\s+){0,3}(?:instrukcje|polecenia|zasady)"
    r"|(?:önceki|tüm)\s+(?:\w+\s+){0,2}(?:talimatları|kuralları)\s+(?:yok say|unut|görmezden gel)"
    r"|(?:ignorera|glöm)\s+(?:\w+\s+){0,3}(?:instruktioner|regler)"
    # Russian / Ukrainian
    r"|(?:игнорируй|проигнорируй|забудь|игнорируйте|забудьте|ігноруй|забудь)\s+(?:\w+\s+){0,3}"
    r"(?:инструкции|правила|указания|інструкції|правила)"
    # Chinese / Japanese / Korean
    r"|(?:忽略|无视|忘记|忘掉|不要理会|忽視|無視)[^。！？\n]{0,12}(?:指令|指示|规则|規則|提示|说明|設定|设定)"
    r"|(?:指示|命令|ルール|設定)[^。！？\n]{0,12}(?:無視|忘れ)"
    r"|(?:지시|명령|규칙)[^.!?\n]{0,12}(?:무시|잊어)"
    # Arabic / Hindi
    r"|(?:تجاهل|انس)\s+(?:\S+\s+){0,3}(?:التعليمات|القواعد)"
    r"|(?:पिछले|सभी)\s+(?:\S+\s+){0,2}(?:निर्देशों|निर्देश)\s+(?:को\s+)?(?:अनदेखा|भूल)"
)

_JAILBREAK = re.compile(
    r"\bdo anything now\b|\byou are (?:now )?(?:dan|dude|stan|aim)\b|\bact as (?:dan|dude|stan|aim)\b|\bas dan\b"
    r"|\b(?:developer|dan|god|dude|stan|aim|unlocked|unrestricted) mode\b[^.\n]{0,12}\b(?:enabled|activated)\b"
    r"|(?:you(?:'re| are) (?:now )?|stay |remain )(?:in|entering|running in) (?:developer|god|dan|unlocked) mode"
    r"|\bchatgpt with (?:developer|dan) mode\b|\bjailbroken\b(?! (?:iphone|phone|device|ipad|console|switch|ps\d))"
    r"|\bjailbreak(?:ing)? (?:yourself|you|this (?:ai|model|assistant|chat|bot)|the (?:ai|model|assistant))\b"
    r"|(?:pretend|imagine|act|behave|role-?play|roleplay|you are now|you're now|from now on you are|simulate|become|"
    r"respond as|answer as|play the role of|you will be|you are an? (?:ai|assistant|chatbot|model|bot))\b"
    r"[^.\n]{0,80}?"
    r"\b(?:unrestricted|unfiltered|uncensored|unbound|unchained|amoral|"
    r"(?:evil|immoral|unethical|rogue|malicious) "
    r"(?:ai|assistant|chatbot|model|twin|confidant|version of (?:you|yourself))|"
    r"(?:no|without|free (?:of|from)|zero|none of (?:the|your)|ignore all)\s+(?:(?:any|all|of|the|your)\s+)?"
    r"(?:restrictions|filters|"
    r"limits|limitations|rules|guidelines|ethics|morals|moral|ethical|censorship|safety|content polic(?:y|ies)|"
    r"boundaries|constraints|guardrails))"
    r"|(?:no|without)\s+(?:any\s+)?(?:restrictions|filters|censorship|guidelines|rules)\s+(?:whatsoever|at all)?"
    r"[^.\n]{0,40}\b(?:stay in character|never refuse|always answer|answer anything)"
    r"|\byou (?:now )?have no (?:rules|restrictions|filters|guidelines|limits|limitations|ethics|morals)\b"
    r"|\b(?:override|disable|turn off|deactivate|remove|lift|bypass) (?:all )?your (?:\w+\s+)?"
    r"(?:safety|content|ethical)\s*"
    r"(?:filters?|guidelines|rules|protocols|checks|polic(?:y|ies))"
    r"|\bnever refuse (?:a|any) (?:request|question)\b|\b(?:you|ai) (?:can|must) (?:never|not) refuse\b"
    r"|\bhypothetical(?:ly)?,? (?:an? )?(?:ai|model|assistant) (?:with(?:out)?|that has no) "
    r"(?:restrictions|rules|filters)"
)

_EXTRACTION = re.compile(
    r"(?:reveal|show|print|display|output|repeat|recite|tell|give|share|leak|dump|copy|write out|spell out|paste|"
    r"list|echo|return|translate|summari[sz]e|what (?:is|are|was|were)|what's)\b[^.?\n]{0,40}?"
    r"\b(?:your|its|this chat's|this assistant's)\s+(?:\w+\s+){0,2}?(?:system\s*prompt|system message|"
    r"initial (?:prompt|instructions)|hidden (?:prompt|instructions|rules)|original (?:prompt|instructions)|"
    r"secret (?:prompt|instructions)|pre-?prompt|developer (?:message|prompt|instructions)|"
    r"(?:instructions|rules|guidelines) you (?:were|have been) given|first instructions|confidential instructions)"
    r"|(?:reveal|print|repeat|dump|leak|output|recite) (?:me )?the (?:full |entire |exact |hidden |original )?"
    r"(?:system\s*prompt|system message|initial instructions|hidden instructions|developer message)"
    r"|(?:repeat|print|output|copy|recite|show)\b[^.?\n]{0,30}\b(?:everything|all|the (?:text|words|content|lines))\s+"
    r"(?:above|before this|prior to this|written above)"
    r"|\b(?:text|everything|words)\s+above\s+(?:this line\s+)?verbatim"
    r"|\bverbatim\b[^.?\n]{0,30}\b(?:instructions|system prompt|prompt above)"
    r"|\b(?:instructions|rules|guidelines|prompts?) (?:that )?you (?:were|have been) given\b"
    r"|what (?:were|are) you (?:told|instructed|programmed) (?:to do )?(?:before|at the start|initially|first)"
    r"|(?:montre|affiche|révèle|répète|muestra|revela|repite|zeige|gib|wiederhole|mostra|rivela|покажи|выведи|"
    r"显示|告诉我|输出|見せ|教え)[^.?\n]{0,30}(?:prompt système|prompt du système|instructions système|"
    r"prompt del sistema|instrucciones del sistema|systemprompt|system-prompt|systemanweisungen|prompt di sistema|"
    r"системный промпт|системные инструкции|系统提示|系統提示|システムプロンプト)"
    r"|(?:系统提示|システムプロンプト|системный промпт)[^。?？\n]{0,12}(?:显示|告诉|输出|見せ|教え|покажи)"
)

_ROLE_MARKER = re.compile(
    r"<\|im_start\|>|<\|im_end\|>|<\|system\|>|<\|endoftext\|>|<\|start_header_id\|>|\[/?inst\]|<<sys>>"
    r"|(?:^|\n)\s*(?:#{2,}|\*\*)?\s*(?:system|developer)\s*(?:prompt|message|instructions?|override|note)\s*(?:\*\*)?\s*:"
    r"|(?:^|\n)\s*\[?(?:system|developer)\]?\s*:\s*(?:you|ignore|new|the assistant|from now|assistant must)"
    r"|\b(?:admin|sudo|root|developer|maintenance|debug|god) (?:override|mode)\s*(?::|enabled|activated)"
    r"|</?system>|\bend of (?:the )?(?:system )?(?:prompt|instructions)\b|\bbegin (?:new )?system prompt\b"
)

_NEW_INSTRUCTIONS = re.compile(
    r"\b(?:new|updated|real|actual|true|revised) (?:instructions|rules|system prompt|directives?)"
    r"\s*(?::|are\b|follow\b)"
    r"|\bfrom now on,? (?:you (?:are|will|must|shall|only)|ignore|respond only|answer only|obey)"
    r"|\byou are no longer (?:an? )?(?:ai|assistant|chatbot|bound|restricted|parley|chatgpt|claude)"
    r"|\byour (?:new|real|true) (?:role|task|purpose|instructions|goal) (?:is|are)\b"
    r"|\b(?:admin|sudo|root|developer|maintenance|debug) access\s*(?::|granted)"
)

RULES: tuple[Rule, ...] = (
    Rule(
        "instruction_override",
        0.9,
        ("ignor", "disregard", "forget", "bypass", "overr", "skip", "discard", "abandon", "neglect", "set aside",
         "throw out", "pay no", "follow", "obey"),
        _OVERRIDE,
        before=20,
        after=140,
    ),
    Rule(
        "instruction_override",
        0.9,
        ("ignor", "oubli", "tiens pas", "olvid", "omite", "esque", "descons", "dimentic", "vergiss", "vergessen",
         "missacht", "negeer", "vergeet", "zignoruj", "zapomnij", "talimat", "kuralları", "glöm", "игнор", "забуд",
         "ігнор", "忽略", "无视", "忘记", "忘掉", "不要理会", "忽視", "無視", "忘れ", "무시", "잊어", "تجاهل", "انس",
         "निर्देश", "desobedece"),
        _MULTILINGUAL,
        before=60,
        after=120,
    ),
    Rule(
        "role_play_jailbreak",
        0.9,
        ("anything now", "dan", "mode", "jailbr", "unrestricted", "unfiltered", "uncensored",
         "unbound", "unchained", "amoral", "evil", "immoral", "unethical", "rogue", "malicious", "restrict", "filter",
         "limit", "rules", "guideline", "ethic", "moral", "censor", "safety", "polic", "boundar", "constraint",
         "guardrail", "refuse"),
        _JAILBREAK,
        before=150,
        after=60,
    ),
    Rule(
        "system_prompt_extraction",
        0.9,
        ("system", "prompt", "instructions", "rules", "guidelines", "developer", "above", "before this",
         "prior to this", "verbatim", "told", "instructed", "programmed", "système", "sistema", "systemanweis",
         "системн", "系统提示", "系統提示", "システムプロンプト"),
        _EXTRACTION,
        before=90,
        after=60,
    ),
    Rule(
        "role_marker",
        0.6,
        ("<|", "[inst", "[/inst", "<<sys", "system", "developer", "override", "mode", "end of"),
        _ROLE_MARKER,
        before=40,
        after=60,
    ),
    Rule(
        "new_instructions",
        0.45,
        ("instructions", "rules", "system prompt", "directive", "from now on", "no longer", "role", "task",
         "purpose", "goal", "access"),
        _NEW_INSTRUCTIONS,
        before=40,
        after=80,
    ),
)  # fmt: skip

# -- disguises -------------------------------------------------------------------------------------

ZERO_WIDTH_RE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
#: Cyrillic and Greek letters that look like Latin ones.
HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁӏвнкмтАВЕКМНОРСТХІЈЅԌαοτνκρεΑΒΕΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdlbhkmtABEKMHOPCTXIJSGaotvkpeABEHIKMNOPTYX",
)
_LATIN_RE = re.compile(r"[A-Za-z]")
_CONFUSABLE_SET = frozenset("аеорсухіјѕԁӏвнкмтАВЕКМНОРСТХІЈЅԌαοτνκρεΑΒΕΗΙΚΜΝΟΡΤΥΧ")
_WORD_RE = re.compile(r"\w+")
#: At least five single letters, each followed by one separator: ``i g n o r e``, ``i.g.n.o.r.e``.
SPACED_RE = re.compile(r"(?<!\w)(?:[^\W\d_][ .\-_*/|]{1,3}){4,}[^\W\d_](?!\w)")
#: Cheap tests (a literal first character) before ``SPACED_RE``, which tries every letter.
SPACED_GATES = (re.compile(r" \w \w \w "), re.compile(r"\.\w\.\w\.\w\."), re.compile(r"-\w-\w-\w-"))
BASE64_RE = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)
#: rot13 of words English payloads use: ignore, instruction, disregard, prompt, system, jailbreak, forget, rules,
#: your, you, above, restrict, filter, guideline.
ROT13_MARKERS = (
    "vtaber", "vafgehpgvba", "qvfertneq", "cebzcg", "flfgrz", "wnvyoernx", "sbetrg", "ehyrf", "lbhe", "lbh ",
    "nobir", "erfgevpg", "svygre", "thvqryvar",
)  # fmt: skip

#: Spaced letters lose the spaces between words too: look for an override in the letters alone.
COMPACT_OVERRIDE_RE = re.compile(
    r"(?:ignor|disregard|forget|bypass|overrid|setaside|paynoattention|stopfollowing|donotfollow|dontfollow|skip)"
    r"[a-z]{0,40}?(?:instruction|prompt|rules|directive|guideline|programming|polic|everythingabove)"
)
WEIGHT_ZERO_WIDTH = 0.3
WEIGHT_HOMOGLYPH = 0.35
WEIGHT_SPACED = 0.3
WEIGHT_ENCODED = 0.5


#: Every rule's anchors once: looked for once per text, not once per rule.
ANCHORS: tuple[str, ...] = tuple(dict.fromkeys(anchor for rule in RULES for anchor in rule.anchors))


def _rule_hits(text: str) -> set[str]:
    present = frozenset(anchor for anchor in ANCHORS if anchor in text)
    if not present:
        return set()
    return {rule.reason for rule in RULES if rule.matches(text, present)}


def _weight(reason: str) -> float:
    return next(rule.weight for rule in RULES if rule.reason == reason)


def _has_mixed_script_word(text: str) -> bool:
    for word in _WORD_RE.findall(text):
        if len(word) > 2 and _LATIN_RE.search(word) and any(c in _CONFUSABLE_SET for c in word):
            return True
    return False


def _decoded_base64(text: str) -> Iterable[str]:
    for m in BASE64_RE.finditer(text):
        chunk = m.group()
        if not (any(c.isupper() for c in chunk) and any(c.islower() for c in chunk)):
            continue  # hex digests, words, paths: not base64 text
        try:
            raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() or all(c.isprintable() or c in "\n\r\t" for c in decoded):
            yield decoded.lower()


def scan_prompt_injection(text: str) -> InjectionVerdict:
    """The verdict on ``text`` (any language); pure and deterministic."""
    if not text:
        return CLEAN
    reasons: dict[str, float] = {}
    lowered = text.lower()
    if not text.isascii():
        if ZERO_WIDTH_RE.search(text):
            stripped = ZERO_WIDTH_RE.sub("", lowered)
            if stripped != lowered:
                reasons["obfuscation_zero_width"] = WEIGHT_ZERO_WIDTH
                lowered = stripped
        lowered = unicodedata.normalize("NFKC", lowered)
        if _has_mixed_script_word(lowered):
            reasons["obfuscation_homoglyph"] = WEIGHT_HOMOGLYPH
            lowered = lowered.translate(HOMOGLYPHS)
    for hit in _rule_hits(lowered):
        reasons[hit] = _weight(hit)
    if not any(r in reasons for r in ("instruction_override", "system_prompt_extraction", "role_play_jailbreak")):
        _scan_disguised(lowered, text, reasons)
    score = 1.0
    for weight in reasons.values():
        score *= 1.0 - weight
    score = round(1.0 - score, 3)
    return InjectionVerdict(score >= FLAG_THRESHOLD, score, tuple(sorted(reasons)))


def _scan_disguised(lowered: str, original: str, reasons: dict[str, float]) -> None:
    """Look again through spaced letters, base64 and rot13; what they hide counts in full."""
    if any(gate.search(lowered) for gate in SPACED_GATES) and SPACED_RE.search(lowered):
        joined = SPACED_RE.sub(lambda m: re.sub(r"[ .\-_*/|]", "", m.group()), lowered)
        hits = _rule_hits(joined)
        if not hits and COMPACT_OVERRIDE_RE.search(re.sub(r"[^a-z]", "", lowered)):
            hits = {"instruction_override"}
        if hits:
            reasons["obfuscation_spaced_letters"] = WEIGHT_SPACED
            reasons.update({h: _weight(h) for h in hits})
    if len(original) >= 16 and max(map(len, original.split())) >= 16 and BASE64_RE.search(original):
        for decoded in _decoded_base64(original):
            hits = _rule_hits(decoded)
            if hits:
                reasons["obfuscation_base64"] = WEIGHT_ENCODED
                reasons.update({h: _weight(h) for h in hits})
                break
    if any(marker in lowered for marker in ROT13_MARKERS):
        hits = _rule_hits(lowered.translate(ROT13))
        if hits:
            reasons["obfuscation_rot13"] = WEIGHT_ENCODED
            reasons.update({h: _weight(h) for h in hits})
