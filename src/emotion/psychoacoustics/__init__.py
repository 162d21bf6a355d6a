"""Psychoacoustic metrics on sound pressure in Pa, with MoSQITo's names and return shapes.

Arrays have a leading stream axis, ``(streams, samples)`` in and ``(streams, …)`` out;
1-D input gives output without it.
"""

from ._zwicker_core import BARK_AXIS, THIRD_OCTAVE_CENTRES_HZ
from .fluctuation_strength import fluctuation_strength
from .loudness_zwst import loudness_zwst, loudness_zwst_third_octave
from .loudness_zwtv import loudness_n5, loudness_nmax, loudness_zwtv
from .roughness_dw import roughness_dw
from .sharpness_din import sharpness_din_from_loudness, sharpness_din_st, sharpness_din_tv

__all__ = [
    "BARK_AXIS",
    "THIRD_OCTAVE_CENTRES_HZ",
    "fluctuation_strength",
    "loudness_n5",
    "loudness_nmax",
    "loudness_zwst",
    "loudness_zwst_third_octave",
    "loudness_zwtv",
    "roughness_dw",
    "sharpness_din_from_loudness",
    "sharpness_din_st",
    "sharpness_din_tv",
]
