"""A recording's transcript, and the script rules read on it (话术质检).

QA in a call centre reads what the agent *said* as well as how: a greeting at the start,
a closing at the end, and none of the phrases the centre forbids (禁语). Where a
transcript sits beside a recording (from the centre's speech recogniser, or typed by a
person), three checks read it (:func:`transcript_flags`): ``forbidden_phrase``,
``missing_greeting`` and ``missing_closing``, each with its phrase list in the settings.

Formats (:func:`read_transcript`):

- **JSON**: a list of segments, or an object holding one under ``segments``,
  ``sentences`` or ``utterances``. A segment has ``text``; its times as ``start_s`` /
  ``end_s`` or ``start`` / ``end`` (seconds), or ``begin_time`` / ``end_time`` (ms,
  as speech recognisers' recording-file results give them); its party as ``speaker``
  (``agent`` / ``caller``, also 坐席 / 客服 / 来电者 / 市民 / 客户) or ``channel`` /
  ``channel_id`` (the recording's channel index; the agent's is ``--agent-channel``).
- **WebVTT**: cues whose text names the party with a voice span (``<v agent>...``) or a
  prefix (``Agent: ...``, ``坐席：...``).

Phrases match on letters and digits alone, case-folded and NFKC-normalised, so the
recogniser's punctuation, spaces and full-width forms do not matter.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from qa.config import QAConfig
from qa.flag import Flag

#: Files beside a recording read as its transcript, first found wins: ``<stem>`` + suffix.
SIDE_SUFFIXES = (".transcript.json", ".vtt")
#: Larger transcript files are refused: a one-hour call's is ~100 KB.
MAX_TRANSCRIPT_BYTES = 10 * 1024 * 1024
#: Quoted text in a flag's evidence is cut to this many characters, and in its one-line
#: detail to the second figure (the whole detail stays within the store's 200).
QUOTE_CHARS = 200
DETAIL_QUOTE_CHARS = 40

_PARTIES = {
    "agent": "agent", "坐席": "agent", "客服": "agent", "话务员": "agent", "operator": "agent",
    "caller": "caller", "customer": "caller", "来电者": "caller", "来电人": "caller",
    "市民": "caller", "客户": "caller",
}
_LISTS = ("segments", "sentences", "utterances")
_VTT_TIME = re.compile(
    r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})")
_VTT_VOICE = re.compile(r"^<v(?:\.[^ >]*)?\s+([^>]+)>(.*?)(?:</v>)?$", re.S)
_PREFIX = re.compile(r"^\s*([^\s:：]{1,12})\s*[:：]\s*(.*)$", re.S)
_TAGS = re.compile(r"<[^>]*>")


class TranscriptError(ValueError):
    """A transcript cannot be read; the message says which file and what is wrong."""


@dataclass(frozen=True)
class Segment:
    """One stretch of speech in the transcript: ``party`` is ``agent`` or ``caller``."""

    start_s: float
    end_s: float
    party: str
    text: str


def beside(recording: str | Path) -> Path | None:
    """The transcript file beside ``recording`` (:data:`SIDE_SUFFIXES`), or None."""
    path = Path(recording)
    for suffix in SIDE_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def normalised(text: str) -> str:
    """Letters and digits of ``text``, NFKC-normalised and case-folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def read_transcript(path: str | Path, agent_channel: int = 0) -> list[Segment]:
    """The segments of a transcript file (JSON or WebVTT, see the module doc), by start.

    Raises
    ------
    TranscriptError
        The file is missing, too large, not UTF-8, or not one of the formats; the
        message names the file and the first problem (a segment by its number).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_TRANSCRIPT_BYTES:
            raise TranscriptError(f"{path}: transcript of {size / 1e6:.1f} MB is larger than "
                                  f"{MAX_TRANSCRIPT_BYTES / 1e6:.0f} MB; split or trim it")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TranscriptError(f"{path}: no such transcript file") from None
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read the transcript ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise TranscriptError(f"{path}: the transcript is not UTF-8 text") from None
    if text.lstrip().startswith("WEBVTT"):
        segments = _from_vtt(text, path)
    else:
        segments = _from_json(text, path, agent_channel)
    return sorted(segments, key=lambda s: (s.start_s, s.end_s))


def _from_json(text: str, path: Path, agent_channel: int) -> list[Segment]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"{path}: not JSON or WebVTT ({exc.msg} at line {exc.lineno})"
                              ) from None
    except RecursionError:  # [[[[…]]]]: no transcript nests this deep
        raise TranscriptError(f"{path}: JSON nested too deeply to be a transcript") from None
    if isinstance(doc, dict):
        items = next((doc[k] for k in _LISTS if k in doc), None)
        if items is None:
            raise TranscriptError(f"{path}: a JSON transcript needs a list of segments, or "
                                  f"an object with one of: {', '.join(_LISTS)}")
    else:
        items = doc
    if not isinstance(items, list):
        raise TranscriptError(f"{path}: the segments must be a list")
    return [_segment(item, k, path, agent_channel) for k, item in enumerate(items, 1)]


def _segment(item, k: int, path: Path, agent_channel: int) -> Segment:
    where = f"{path}: segment {k}"
    if not isinstance(item, dict):
        raise TranscriptError(f"{where} is not an object")
    text = item.get("text")
    if not isinstance(text, str):
        raise TranscriptError(f"{where} has no text")
    start, end = _times(item, where)
    return Segment(start, end, _party(item, where, agent_channel), text)


def _times(item: dict, where: str) -> tuple[float, float]:
    for a, b, scale in (("start_s", "end_s", 1.0), ("start", "end", 1.0),
                        ("begin_time", "end_time", 1e-3)):
        if a in item or b in item:
            try:
                start, end = float(item[a]) * scale, float(item[b]) * scale
            except (KeyError, TypeError, ValueError):
                raise TranscriptError(f"{where}: {a} and {b} must both be numbers") from None
            if not 0 <= start <= end < 1e7:
                raise TranscriptError(f"{where}: need 0 <= {a} <= {b}, got {item[a]}, "
                                      f"{item[b]}")
            return start, end
    raise TranscriptError(f"{where} has no times (start_s/end_s, start/end or "
                          f"begin_time/end_time in ms)")


def _party(item: dict, where: str, agent_channel: int) -> str:
    speaker = item.get("speaker", item.get("role"))
    if isinstance(speaker, str):
        party = _PARTIES.get(speaker.strip().casefold())
        if party is None:
            raise TranscriptError(f"{where}: unknown speaker {speaker!r}; use agent or caller")
        return party
    channel = item.get("channel", item.get("channel_id", speaker))
    if isinstance(channel, bool) or not isinstance(channel, int) or channel not in (0, 1):
        raise TranscriptError(f"{where} needs a speaker (agent or caller) or a channel "
                              f"(0 or 1)")
    return "agent" if channel == agent_channel else "caller"


def _vtt_seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    return sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))


def _from_vtt(text: str, path: Path) -> list[Segment]:
    out = []
    for block in re.split(r"\r?\n\s*\r?\n", text):
        lines = block.strip().splitlines()
        at = next((i for i, line in enumerate(lines) if _VTT_TIME.match(line)), None)
        if at is None:
            continue  # the header, NOTE, STYLE and REGION blocks
        m = _VTT_TIME.match(lines[at])
        start, end = _vtt_seconds(m.group(1)), _vtt_seconds(m.group(2))
        body = " ".join(lines[at + 1:]).strip()
        voice = _VTT_VOICE.match(body)
        who, said = (voice.group(1), voice.group(2)) if voice else (None, body)
        if who is None and (prefix := _PREFIX.match(body)) and \
                prefix.group(1).casefold() in _PARTIES:
            who, said = prefix.group(1), prefix.group(2)
        where = f"{path}: cue at {m.group(1)}"
        if who is None or who.strip().casefold() not in _PARTIES:
            raise TranscriptError(f"{where} does not say who speaks: start its text with "
                                  f"<v agent> or <v caller> (or 'Agent:' / 'Caller:')")
        if end < start:
            raise TranscriptError(f"{where} ends before it starts")
        out.append(Segment(start, end, _PARTIES[who.strip().casefold()],
                           _TAGS.sub("", said).strip()))
    if not out:
        raise TranscriptError(f"{path}: a WebVTT transcript without cues")
    return out


# ---------------------------------------------------------------- the rules
def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars - 1] + "…"


def _quote(segments: list[Segment]) -> str:
    return _cut(" ".join(s.text.strip() for s in segments), QUOTE_CHARS)


def _found(phrases: tuple[str, ...], text: str) -> list[str]:
    """The phrases said in ``text`` (both normalised), in the settings' order."""
    said = normalised(text)
    return [p for p in phrases if (n := normalised(p)) and n in said]


def transcript_flags(segments: list[Segment], config: QAConfig) -> list[Flag]:
    """forbidden_phrase, missing_greeting and missing_closing flags of the agent's speech.

    A forbidden phrase is one flag per segment that holds it. The greeting is looked for
    in the agent's segments that start within ``within_s`` of their first; the closing
    in those that end within ``within_s`` of their last; missing, the flag spans those
    segments. A transcript in which the agent says nothing gets no flag (there is no
    opening or closing of theirs to judge).
    """
    agent = [s for s in segments if s.party == "agent"]
    out: list[Flag] = []
    cfg = config.checks["forbidden_phrase"]
    if cfg.enabled:
        for seg in agent:
            hits = _found(cfg.phrases, seg.text)
            if hits:
                quote = _quote([seg])
                named = _cut(", ".join(repr(h) for h in hits), 80)
                out.append(Flag(
                    "forbidden_phrase", seg.start_s, seg.end_s, "warning", "agent",
                    detail=f"agent said {named}, on the forbidden list: "
                           f"\"{_cut(quote, DETAIL_QUOTE_CHARS)}\"",
                    evidence={"phrases": hits, "said": quote,
                              "detail_zh": f"坐席使用禁语「{'」「'.join(hits)}」：“{quote}”"}))
    if not agent:
        return out
    for check, edge in (("missing_greeting", "first"), ("missing_closing", "last")):
        cfg = config.checks[check]
        if not cfg.enabled or not cfg.phrases:
            continue
        if edge == "first":
            part = [s for s in agent if s.start_s <= agent[0].start_s + cfg.within_s]
        else:
            last_s = max(s.end_s for s in agent)
            part = [s for s in agent if s.end_s >= last_s - cfg.within_s]
        if _found(cfg.phrases, " ".join(s.text for s in part)):
            continue
        quote = _quote(part)
        shown = "、".join(cfg.phrases[:4]) + ("…" if len(cfg.phrases) > 4 else "")
        en = "greeting" if edge == "first" else "closing"
        zh = ("开场", "问候语") if edge == "first" else ("结束前", "结束语")
        out.append(Flag(
            check, part[0].start_s, part[-1].end_s, "warning", "agent",
            detail=f"no {en} in the agent's {edge} {cfg.within_s:g} s of speech: "
                   f"\"{_cut(quote, DETAIL_QUOTE_CHARS)}\"",
            evidence={"within_s": cfg.within_s, "said": quote, "expected": list(cfg.phrases),
                      "detail_zh": f"坐席{zh[0]} {cfg.within_s:g} 秒内没有{zh[1]}（应包含："
                                   f"{shown}）：“{quote}”"}))
    return out
