"""Keeping the compiled recursive filters off subnormal numbers.

On digital silence (exact zeros: silence suppression, a muted line, a hold without
music) a recursive filter's state decays towards zero, reaches the subnormal range
(below 2.2e-308) and, by rounding, can cycle there for ever. x86 processors work on
subnormal operands in microcode: the VAD's high-pass took 80 ns a sample there against
4 ns on speech or line noise, and muted streams cost a live floor 3.5 times their share
(benchmarks/RESULTS.md, twenty-fifth round). Numba offers no portable way to set the
processor's flush-to-zero mode, so the kernels flush themselves: a state below
:data:`TINY` becomes zero, at every step of the loudness decays, every
:data:`FLUSH_EVERY` samples in the biquad cascades and every level step (24 samples)
in ISO's 48 kHz filterbank. The cascades' fastest mode (pole radius 0.13, in the 2 kHz
low-pass before YIN at 8 kHz) falls by at most 1e-56 in that many samples, the
filterbank's by 0.02, so no state gets from :data:`TINY` into the subnormal range in
between.
Silence then stays exactly zero, and speech never comes near :data:`TINY` (the
quietest 16-bit sample is 3e-5 of full scale).
"""

from numba import njit

#: A state below this is zero (in the quantity's units: full scale, or sone).
TINY = 1e-30
#: Samples between two flushes of a biquad cascade's states.
FLUSH_EVERY = 64


@njit(cache=True, nogil=True, inline="always")
def flushed(value):  # pragma: no cover - compiled
    """``value``, or zero if it is below :data:`TINY` in magnitude."""
    return value if abs(value) >= TINY else 0.0
