"""Counters of the live service and their Prometheus text exposition (format 0.0.4).

Everything is updated on the event loop (the engine thread, or the engine process's
reader thread, hands its tick timings over with ``call_soon_threadsafe``), so no lock is
needed.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict, deque

from capture.ingest import IngestStats

TICK_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PROTOCOLS = ("audiofork", "twilio", "audiosocket")


class Histogram:
    """A Prometheus histogram with fixed bucket bounds, plus the last values seen."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0
        self.recent: deque[float] = deque(maxlen=240)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1
        self.recent.append(value)

    def summary(self) -> dict:
        """Last, median, 99th percentile and maximum of the recent values (s)."""
        if not self.recent:
            return {"last_s": None, "p50_s": None, "p99_s": None, "max_s": None, "ticks": 0}
        ordered = sorted(self.recent)

        def q(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)], 6)

        return {"last_s": round(self.recent[-1], 6), "p50_s": q(0.5), "p99_s": q(0.99),
                "max_s": round(ordered[-1], 6), "ticks": self.count}


class Metrics:
    """What ``/metrics`` and ``/healthz`` report."""

    def __init__(self) -> None:
        self.connections: dict[str, int] = dict.fromkeys(PROTOCOLS, 0)
        self.live_calls = 0
        self.unscored_calls = 0
        self.frames: dict[str, int] = dict.fromkeys(PROTOCOLS, 0)
        self.samples: dict[str, int] = dict.fromkeys(PROTOCOLS, 0)
        self.frames_dropped: dict[str, int] = dict.fromkeys(PROTOCOLS, 0)
        self.samples_filled: dict[str, int] = dict.fromkeys(PROTOCOLS, 0)
        self.protocol_errors: dict[tuple[str, str], int] = defaultdict(int)
        self.connections_refused: dict[str, int] = defaultdict(int)
        self.connections_cut: dict[tuple[str, str], int] = defaultdict(int)
        """Connections closed for a port's budget or a waiting limit (``limits.CutCounts``)."""
        self.samples_per_s = 0.0
        self.tick = Histogram(TICK_BUCKETS_S)
        self.tick_audio_s = 0.0
        self.tick_compute_s = 0.0
        self.alerts_opened: dict[tuple[str, str], int] = defaultdict(int)
        self.alert_events_published = 0
        self.dashboard_clients = 0
        self.dashboards_dropped_slow = 0
        self._sample_marks: deque[tuple[float, int]] = deque(maxlen=64)

    def add_parser_stats(self, protocol: str, new: IngestStats, old: IngestStats) -> None:
        """Count what a parser did since ``old`` (its previous stats)."""
        self.frames[protocol] += new.frames - old.frames
        self.samples[protocol] += new.samples - old.samples
        self.frames_dropped[protocol] += new.duplicates_dropped - old.duplicates_dropped
        self.samples_filled[protocol] += new.samples_filled - old.samples_filled

    def mark_rate(self, now_s: float) -> None:
        """Update ``samples_per_s`` over the last few seconds (call about once a second)."""
        total = sum(self.samples.values())
        self._sample_marks.append((now_s, total))
        while len(self._sample_marks) > 2 and now_s - self._sample_marks[0][0] > 5.0:
            self._sample_marks.popleft()
        t0, n0 = self._sample_marks[0]
        self.samples_per_s = (total - n0) / (now_s - t0) if now_s > t0 else 0.0

    def render(self, engine_stats: dict | None = None) -> str:
        """The Prometheus text exposition; ``engine_stats`` is ``LiveEngine.stats``."""
        engine = engine_stats or {}
        out: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(f"{name}{labels} {_num(value)}" for labels, value in samples)

        def per_protocol(counts: dict[str, int]) -> list[tuple[str, float]]:
            return [(f'{{protocol="{p}"}}', v) for p, v in sorted(counts.items())]

        metric("voiceline_seats_connected", "gauge",
               "Live calls (seats streaming audio) over all protocols.",
               [("", self.live_calls)])
        metric("voiceline_unscored_calls", "gauge",
               "Live calls recorded without scoring (no baseline to judge them by).",
               [("", self.unscored_calls)])
        metric("voiceline_ingest_connections", "gauge", "Open ingest connections.",
               per_protocol(self.connections))
        metric("voiceline_frames_received_total", "counter",
               "Audio messages accepted by the ingest parsers.", per_protocol(self.frames))
        metric("voiceline_samples_received_total", "counter",
               "Audio samples received, summed over channels.", per_protocol(self.samples))
        metric("voiceline_samples_per_second", "gauge",
               "Samples received per second over the last few seconds.",
               [("", self.samples_per_s)])
        metric("voiceline_frames_dropped_total", "counter",
               "Audio messages dropped as duplicates or late.",
               per_protocol(self.frames_dropped))
        metric("voiceline_samples_filled_total", "counter",
               "Silence inserted for gaps in the incoming audio.",
               per_protocol(self.samples_filled))
        metric("voiceline_protocol_errors_total", "counter",
               "Malformed input from ingest clients.",
               [(f'{{protocol="{p}",fatal="{f}"}}', v)
                for (p, f), v in sorted(self.protocol_errors.items())])
        metric("voiceline_ingest_refused_total", "counter",
               "Ingest connections or calls refused (bad token, unbound AudioSocket UUID, "
               "busy seat, a call whose ids or fields cannot be recorded).",
               [(f'{{reason="{r}"}}', v) for r, v in sorted(self.connections_refused.items())])
        metric("voiceline_connections_cut_total", "counter",
               "Connections closed over a port's max_connections, or for sending no "
               "request, no call start or no data in time.",
               [(f'{{port="{p}",reason="{r}"}}', v)
                for (p, r), v in sorted(self.connections_cut.items())])
        for name, help_ in (
                ("received", "Audio the engine received, all channels."),
                ("underrun", "Silence the engine filled in for audio due but not there."),
                ("dropped", "Audio the engine dropped because its backlog was full."),
                ("late", "Audio the engine dropped as late or duplicate.")):
            metric(f"voiceline_engine_{name}_seconds_total", "counter", help_,
                   [("", float(engine.get(f"{name}_s", 0.0)))])
        metric("voiceline_engine_echo_speech_seconds_total", "counter",
               "Agent-channel speech taken for the caller's echo in the headset, not "
               "scored (emotion.echo).",
               [("", float(engine.get("echo_speech_s", 0.0)))])
        metric("voiceline_engine_rhythmless_windows_total", "counter",
               "Agent windows without a voice's rhythm (music on hold), not scored.",
               [("", engine.get("rhythmless_windows", 0))])
        metric("voiceline_engine_restarts_total", "counter",
               "Engine processes that died or hung and were replaced.",
               [("", engine.get("restarts", 0))])
        buckets = []
        cumulative = 0
        for bound, count in zip((*self.tick.bounds, math.inf), self.tick.counts, strict=True):
            cumulative += count
            buckets.append((f'_bucket{{le="{_num(bound)}"}}', cumulative))
        out.append("# HELP voiceline_tick_latency_seconds Wall time of one engine tick.")
        out.append("# TYPE voiceline_tick_latency_seconds histogram")
        out.extend(f"voiceline_tick_latency_seconds{s} {v}" for s, v in buckets)
        out.append(f"voiceline_tick_latency_seconds_sum {_num(self.tick.sum)}")
        out.append(f"voiceline_tick_latency_seconds_count {self.tick.count}")
        metric("voiceline_alerts_opened_total", "counter", "Alerts opened by the engine.",
               [(f'{{kind="{k}",severity="{s}"}}', v)
                for (k, s), v in sorted(self.alerts_opened.items())])
        metric("voiceline_alert_events_published_total", "counter",
               "Alert events fanned out to dashboards.", [("", self.alert_events_published)])
        metric("voiceline_dashboard_clients", "gauge", "Connected dashboards.",
               [("", self.dashboard_clients)])
        metric("voiceline_dashboard_clients_dropped_total", "counter",
               "Dashboards disconnected for falling behind.",
               [("", self.dashboards_dropped_slow)])
        return "\n".join(out) + "\n"


def _num(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))
