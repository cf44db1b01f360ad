"""The English stop words ``GET /api/v1/paragraphs/dictionary?exclude_stopwords=true`` leaves out.

Function words that top every frequency list and say nothing about the text: articles, pronouns,
auxiliaries, prepositions, conjunctions and the commonest adverbs, in the lower-cased form word
counts use (contractions split at the apostrophe the way runs are, so "don't" counts "don" and "t").
"""

from __future__ import annotations

_WORDS = """
    a about above after again against ain all also am an and any are aren as at
    be because been before being below between both but by
    can cannot could couldn
    d did didn do does doesn doing don down during
    each either else ever every
    few for from further
    had hadn has hasn have haven having he her here hers herself him himself his how however
    i if in into is isn it its itself
    just
    ll
    m ma may me might mightn more most much must mustn my myself
    needn neither no nor not now
    o of off often on once one only or other otherwise our ours ourselves out over own
    re
    s same shall shan she should shouldn so some such
    t than that the their theirs them themselves then there therefore these they this those though through thus to too
    under until up upon us
    ve very
    was wasn we were weren what when where whether which while who whom whose why will with
    within without won would wouldn
    y yet you your yours yourself yourselves
"""

STOP_WORDS: frozenset[str] = frozenset(_WORDS.split())
