"""Simulated speakers: a shared pool of rendered timbres, and each speaker's own voice.

A :class:`Timbre` is everything that is expensive to render: sex, F0, F0 movement,
speaking rate, formant scale, voice quality, and how strongly this voice changes when
agitated or low in energy. Timbres come from a fixed pool per role (agents, callers) —
a cast, the same in every simulation, so rendered banks serve any seed; a simulation's
seed decides who gets which timbre. A speaker's :class:`AgentVoice` is a timbre from the
pool, a pitch shift of −1, 0 or +1 semitone applied by resampling (which also scales
formants and speaking rate by the same 6 %, like a slightly smaller or larger talker),
and the speaker's own level. So 300 agents need at most ``n_timbres × 3`` rendered
banks, and no two agents with the same timbre and shift differ in anything but level.

Styles are relative to the speaker's own ordinary (calm) voice:

==============  ===========  ===========  ============  ===========  ====================
style           level        F0           F0 movement   rate         voice quality
==============  ===========  ===========  ============  ===========  ====================
``calm``        own level    own F0       own range     own rate     own
``agitated``    +6 … +10 dB  +3 … +5 st   × 1.6         × 1.25       pressed, brighter
``low_energy``  −5 … −7 dB   −1.5 … −2.5  × 0.5         × 0.8        softer, darker
==============  ===========  ===========  ============  ===========  ====================

(the ranges are per timbre, drawn once), so a naturally loud agent's calm voice may be
louder than a quiet agent's agitated one.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from capture.speech_synth import SpeakingStyle

__all__ = ["ROLES", "STYLES", "AgentVoice", "Timbre", "stable_int", "timbre_pool"]

#: Speaking styles, in the order banks store them.
STYLES = ("calm", "agitated", "low_energy")
#: Who a voice belongs to, and the styles each role's banks hold.
ROLES = {"agent": STYLES, "caller": ("calm", "agitated")}
#: Default pool sizes per role: distinct rendered timbres.
POOL_SIZES = {"agent": 24, "caller": 12}
#: Pitch shifts an agent's voice may take, semitones (callers use 0 only).
AGENT_SHIFTS_ST = (-1, 0, 1)
#: Calm active speech level on the line, dBFS: agents (headsets) and callers (any phone).
LEVEL_RANGE_DBFS = {"agent": (-32.0, -24.0), "caller": (-34.0, -22.0)}


@dataclass(frozen=True)
class Timbre:
    """A rendered voice source, shared by the speakers drawn onto it.

    Attributes
    ----------
    role : str
        ``'agent'`` or ``'caller'``: which styles its bank holds.
    index : int
        Position in its pool.
    sex : str
        ``'female'`` or ``'male'``.
    f0_hz : float
        Median F0 of the calm voice, Hz.
    f0_range : float
        Scale of F0 movement (accents, declination, drift); 1 is :func:`speech_like`'s.
    syllable_rate_hz : float
        Calm syllables per second within a phrase.
    formant_scale : float
        Factor on formant frequencies (vocal-tract length).
    closing : float
        Glottal closing phase of the calm voice (fraction of a period).
    agitated_gain_db, agitated_f0_st : float
        How much louder (dB) and higher (semitones) agitated speech is.
    low_energy_gain_db, low_energy_f0_st : float
        The same for low-energy speech (both negative).
    seed : int
        Seed of the rendering.
    """

    role: str
    index: int
    sex: str
    f0_hz: float
    f0_range: float
    syllable_rate_hz: float
    formant_scale: float
    closing: float
    agitated_gain_db: float
    agitated_f0_st: float
    low_energy_gain_db: float
    low_energy_f0_st: float
    seed: int

    def speaking_style(self, style: str) -> SpeakingStyle:
        """The :class:`~capture.speech_synth.SpeakingStyle` that renders ``style``."""
        rate_hz, closing, f0_range = self.syllable_rate_hz, self.closing, self.f0_range
        if style == "calm":
            return SpeakingStyle(0.0, 0.0, rate_hz, (0.25, 0.70), f0_range, closing, 0.0, f0_range)
        if style == "agitated":
            return SpeakingStyle(
                self.agitated_f0_st, self.agitated_gain_db, 1.25 * rate_hz, (0.12, 0.35),
                1.8 * f0_range, 0.5 * closing, 0.8, 1.6 * f0_range,
            )
        if style == "low_energy":
            return SpeakingStyle(
                self.low_energy_f0_st, self.low_energy_gain_db, 0.8 * rate_hz, (0.40, 1.00),
                0.5 * f0_range, min(1.4 * closing, 0.3), -0.3, 0.5 * f0_range,
            )
        raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")

    def gain_db(self, style: str) -> float:
        """Active level of ``style`` relative to the calm voice, dB."""
        return {"calm": 0.0, "agitated": self.agitated_gain_db,
                "low_energy": self.low_energy_gain_db}[style]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be 'agent' or 'caller', got {role!r}")


@functools.lru_cache(maxsize=64)
def timbre_pool(role: str = "agent", n_timbres: int | None = None) -> tuple:
    """The pool of timbres that ``role``'s voices are drawn onto; even indices are female.

    The pool is fixed: a smaller pool is the start of a larger one.

    Parameters
    ----------
    role : {'agent', 'caller'}
        Whose pool.
    n_timbres : int, optional
        Pool size; default 24 for agents, 12 for callers.

    Returns
    -------
    tuple of Timbre
    """
    _check_role(role)
    n = POOL_SIZES[role] if n_timbres is None else int(n_timbres)
    if n < 1:
        raise ValueError(f"n_timbres must be at least 1, got {n_timbres!r}")
    rng = np.random.default_rng([list(ROLES).index(role), 7411])
    pool = []
    for index in range(n):
        female = index % 2 == 0
        pool.append(Timbre(
            role=role,
            index=index,
            sex="female" if female else "male",
            f0_hz=float(rng.uniform(170, 235) if female else rng.uniform(95, 140)),
            f0_range=float(rng.uniform(0.75, 1.3)),
            syllable_rate_hz=float(rng.uniform(3.9, 5.0)),
            formant_scale=float(rng.uniform(0.95, 1.05)),
            closing=float(rng.uniform(0.13, 0.19)),
            agitated_gain_db=float(rng.uniform(6.0, 10.0)),
            agitated_f0_st=float(rng.uniform(3.0, 5.0)),
            low_energy_gain_db=float(rng.uniform(-7.0, -5.0)),
            low_energy_f0_st=float(rng.uniform(-2.5, -1.5)),
            seed=int(rng.integers(2**31)),
        ))
    return tuple(pool)


def stable_int(*parts: object) -> int:
    """A 64-bit integer from ``parts`` that is the same in every process (unlike hash())."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass(frozen=True)
class AgentVoice:
    """One simulated speaker's own voice: an agent's, or a caller's (the same model).

    Attributes
    ----------
    voice_id : str
        The agent id (e.g. ``'A1001'``) or a caller's id.
    timbre : Timbre
        The rendered voice source.
    shift_st : int
        Pitch shift applied by resampling, semitones (scales F0, formants and rate).
    level_dbfs : float
        Active speech level (ITU-T P.56) of the calm voice on the line, dBFS.
    """

    voice_id: str
    timbre: Timbre
    shift_st: int = 0
    level_dbfs: float = -26.0

    @classmethod
    def draw(
        cls, voice_id: str, *, seed: int = 0, role: str = "agent", n_timbres: int | None = None
    ) -> AgentVoice:
        """The voice of ``voice_id`` in the simulation ``seed``: the same answer every time.

        Parameters
        ----------
        voice_id : str
            Agent id, or any id for a caller.
        seed : int
            The simulation's seed: which timbre, shift and level ``voice_id`` gets.
        role : {'agent', 'caller'}
            Agents take one of 3 pitch shifts and a calm level of −32 … −24 dBFS; callers
            no shift and −34 … −22 dBFS. Peaks stand about 19 dB above the active level,
            so the loudest agitated voices clip a few peaks at μ-law full scale, as on a
            real line.
        n_timbres : int, optional
            Pool size (see :func:`timbre_pool`).
        """
        _check_role(role)
        pool = timbre_pool(role, n_timbres)
        rng = np.random.default_rng(stable_int(seed, role, str(voice_id)))
        timbre = pool[int(rng.integers(len(pool)))]
        shifts = AGENT_SHIFTS_ST if role == "agent" else (0,)
        shift_st = int(shifts[int(rng.integers(len(shifts)))])
        level_dbfs = float(rng.uniform(*LEVEL_RANGE_DBFS[role]))
        return cls(str(voice_id), timbre, shift_st, level_dbfs)

    def __post_init__(self) -> None:
        if self.shift_st not in AGENT_SHIFTS_ST:
            raise ValueError(f"shift_st must be one of {AGENT_SHIFTS_ST}, got {self.shift_st!r}")
        if not -60.0 <= self.level_dbfs <= -10.0:
            raise ValueError(f"level_dbfs should be a speech level of −60 … −10 dBFS, "
                             f"got {self.level_dbfs!r}")

    @property
    def role(self) -> str:
        return self.timbre.role

    @property
    def styles(self) -> tuple[str, ...]:
        """Styles this voice can speak in."""
        return ROLES[self.timbre.role]

    @property
    def sex(self) -> str:
        return self.timbre.sex

    @property
    def _ratio(self) -> float:
        return 2 ** (self.shift_st / 12)

    @property
    def f0_hz(self) -> float:
        """Median F0 of the calm voice, Hz."""
        return self.timbre.f0_hz * self._ratio

    @property
    def f0_range(self) -> float:
        """Scale of calm F0 movement, 1 being :func:`~capture.synth.speech_like`'s."""
        return self.timbre.f0_range

    @property
    def syllable_rate_hz(self) -> float:
        """Calm syllables per second within a phrase."""
        return self.timbre.syllable_rate_hz * self._ratio

    @property
    def formant_scale(self) -> float:
        """Factor on formant frequencies relative to the average adult of this sex."""
        return self.timbre.formant_scale * self._ratio

    def style_level_dbfs(self, style: str) -> float:
        """Active speech level of ``style`` on the line, dBFS."""
        self.check_style(style)
        return self.level_dbfs + self.timbre.gain_db(style)

    def style_f0_hz(self, style: str) -> float:
        """Median F0 of ``style``, Hz."""
        self.check_style(style)
        shift_st = self.timbre.speaking_style(style).f0_shift_st
        return self.f0_hz * 2 ** (shift_st / 12)

    def check_style(self, style: str) -> None:
        """Raise ValueError unless this voice speaks ``style``."""
        if style not in self.styles:
            raise ValueError(
                f"a {self.role}'s voice speaks {', '.join(self.styles)}, not {style!r}"
            )
