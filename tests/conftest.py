"""Shared test fixtures: where the research data lives, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VOICELINE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path into ``../shared/data``; skips the calling test with a reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"research data not found at {path} (set VOICELINE_SHARED_DATA or place "
            "../shared/data beside the repository); synthetic known-answer tests still run"
        )
    return path


@pytest.fixture
def psychoacoustics_data() -> Path:
    return shared_path("psychoacoustics")
