"""A pre-inspection flag: one event worth a reviewer's time, as the JSON result holds it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Flag:
    """One event worth a reviewer's time (the JSON result's ``flags`` entries)."""

    check: str
    start_s: float
    end_s: float
    severity: str
    channel: str
    detail: str
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"check": self.check, "start_s": round(self.start_s, 2),
                "end_s": round(self.end_s, 2), "severity": self.severity,
                "channel": self.channel, "detail": self.detail, "evidence": self.evidence}
