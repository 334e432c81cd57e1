"""Prometheus text-format metrics, with no dependency.

Counters, a gauge callback and histograms, enough for: requests by route and status,
consents by site and action, store write latency and batch size, and audit rows.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    inner = ",".join(
        f'{n}="{v.replace(chr(92), chr(92) * 2).replace(chr(10), " ").replace(chr(34), chr(92) + chr(34))}"'
        for n, v in zip(names, values, strict=True)
    )
    return "{" + inner + "}"


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` to the series named by ``labels``."""
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        """The current value of one series (0 if never touched)."""
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        """Exposition lines."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for labels, value in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, labels)} {value:g}")
        return lines


class Histogram:
    """Observations counted into cumulative buckets."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        self.name, self.help = name, help_text
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * (len(self.buckets) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        """Record one observation."""
        with self._lock:
            self._counts[bisect.bisect_left(self.buckets, value)] += 1
            self._sum += value

    @property
    def count(self) -> int:
        """How many observations so far."""
        return sum(self._counts)

    def render(self) -> list[str]:
        """Exposition lines."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, count in zip(self.buckets, self._counts, strict=False):
            running += count
            lines.append(f'{self.name}_bucket{{le="{bound:g}"}} {running}')
        running += self._counts[-1]
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {running}')
        lines.append(f"{self.name}_sum {self._sum:g}")
        lines.append(f"{self.name}_count {running}")
        return lines


class Metrics:
    """Every metric the service exports."""

    def __init__(self) -> None:
        self.requests = Counter(
            "kakor_http_requests_total",
            "HTTP requests by route, method and status",
            ("route", "method", "status"),
        )
        self.consents = Counter(
            "kakor_consents_total",
            "Consent events recorded, by site and action",
            ("site", "action"),
        )
        self.store_errors = Counter("kakor_store_errors_total", "Failed store writes")
        self.store_refused = Counter(
            "kakor_store_refused_total",
            "Consent events the store could not keep for their content (the others were kept)",
        )
        self.store_write_seconds = Histogram(
            "kakor_store_write_seconds",
            "Time to commit one batch of consent events",
            (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.store_batch_size = Histogram(
            "kakor_store_batch_size",
            "Consent events per committed batch",
            (1, 2, 4, 8, 16, 32, 64, 128, 256),
        )

    def render(self, audit_rows: int | None) -> str:
        """The whole exposition, ``audit_rows`` read from the store at scrape time."""
        lines: list[str] = []
        for metric in (self.requests, self.consents, self.store_errors, self.store_refused):
            lines += metric.render()
        for hist in (self.store_write_seconds, self.store_batch_size):
            lines += hist.render()
        if audit_rows is not None:
            lines += [
                "# HELP kakor_audit_rows Rows in the audit log",
                "# TYPE kakor_audit_rows gauge",
                f"kakor_audit_rows {audit_rows}",
            ]
        return "\n".join(lines) + "\n"
