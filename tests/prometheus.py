"""Reading Prometheus text (a `/metrics` answer) in tests: one sample's value."""

from __future__ import annotations


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample, by metric name and labels (0 when it is not there)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
