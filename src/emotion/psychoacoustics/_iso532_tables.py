"""Constant tables of ISO 532-1:2017 (Zwicker loudness), as plain numpy arrays.

Values are those of the standard's tables and of its normative reference program
(Annex A, ``ISO_532-1.c``); each table names its source. Arrays are read-only so that
no caller can alter the model by accident.

Table numbers follow ISO 532-1:2017 Annex A (A.1 to A.9). Where the 1991 BASIC program
of Zwicker & Fastl (copied by MoSQITo and SQAT) and the ISO C program differ (one
entry of USL, see below), the ISO program is followed.
"""

from __future__ import annotations

import numpy as np


def _frozen(values, dtype=np.float64) -> np.ndarray:
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array


# --- Sampling ------------------------------------------------------------------------
#: Sampling rate the Annex A filterbank is specified for (ISO 532-1:2017, 6.3, A.2).
FS_HZ = 48000.0
#: Rate of the third-octave levels and core loudness, 0.5 ms steps (A.4 ``SR_LEVEL``).
LEVEL_RATE_HZ = 2000.0
#: Rate of the time-varying loudness output, 2 ms steps (A.4 ``SR_LOUDNESS``).
LOUDNESS_RATE_HZ = 500.0
#: Reference intensity of the level computation, Pa² (A.4 ``I_REF`` = (20 µPa)²).
I_REF_PA2 = 4e-10
#: Added to the smoothed intensity before the logarithm (A.4 ``TINY_VALUE``).
TINY_VALUE_PA2 = 1e-12

# --- Third-octave bands ----------------------------------------------------------------
#: Nominal third-octave centre frequencies 25 Hz to 12.5 kHz (28 bands; clause 5, Table A.2).
THIRD_OCTAVE_CENTRES_HZ = _frozen(
    [25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800,
     1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500]
)
#: Exact (base-10) centre frequencies used by the reference program for the smoothing
#: time constants: f = 1000 · 10^((i − 16)/10) (A.4 ``f_calc_third_octave_levels``).
EXACT_CENTRES_HZ = _frozen(1000.0 * 10.0 ** ((np.arange(28) - 16) / 10.0))

# --- Annex A filterbank at 48 kHz (Table A.1 and A.2) ------------------------------------
#: Reference biquad coefficients b0 b1 b2 a0 a1 a2 for the three stages (Table A.1).
FILTER_REF = _frozen([[1, 2, 1, 1, -2, 1], [1, 0, -1, 1, -2, 1], [1, -2, 1, 1, -2, 1]])
#: Differences (a1d, a2d) to the reference per band and stage, shape (28, 3, 2); the
#: b differences and a0d are zero in the standard (Table A.2).
FILTER_A_DIFF = _frozen([
    [[-6.70260e-004, 6.59453e-004], [-3.75071e-004, 3.61926e-004], [-3.06523e-004, 2.97634e-004]],
    [[-8.47258e-004, 8.30131e-004], [-4.76448e-004, 4.55616e-004], [-3.88773e-004, 3.74685e-004]],
    [[-1.07210e-003, 1.04496e-003], [-6.06567e-004, 5.73553e-004], [-4.94004e-004, 4.71677e-004]],
    [[-1.35836e-003, 1.31535e-003], [-7.74327e-004, 7.22007e-004], [-6.29154e-004, 5.93771e-004]],
    [[-1.72380e-003, 1.65564e-003], [-9.91780e-004, 9.08866e-004], [-8.03529e-004, 7.47455e-004]],
    [[-2.19188e-003, 2.08388e-003], [-1.27545e-003, 1.14406e-003], [-1.02976e-003, 9.40900e-004]],
    [[-2.79386e-003, 2.62274e-003], [-1.64828e-003, 1.44006e-003], [-1.32520e-003, 1.18438e-003]],
    [[-3.57182e-003, 3.30071e-003], [-2.14252e-003, 1.81258e-003], [-1.71397e-003, 1.49082e-003]],
    [[-4.58305e-003, 4.15355e-003], [-2.80413e-003, 2.28135e-003], [-2.23006e-003, 1.87646e-003]],
    [[-5.90655e-003, 5.22622e-003], [-3.69947e-003, 2.87118e-003], [-2.92205e-003, 2.36178e-003]],
    [[-7.65243e-003, 6.57493e-003], [-4.92540e-003, 3.61318e-003], [-3.86007e-003, 2.97240e-003]],
    [[-1.00023e-002, 8.29610e-003], [-6.63788e-003, 4.55999e-003], [-5.15982e-003, 3.75306e-003]],
    [[-1.31230e-002, 1.04220e-002], [-9.02274e-003, 5.73132e-003], [-6.94543e-003, 4.71734e-003]],
    [[-1.73693e-002, 1.30947e-002], [-1.24176e-002, 7.20526e-003], [-9.46002e-003, 5.93145e-003]],
    [[-2.31934e-002, 1.64308e-002], [-1.73009e-002, 9.04761e-003], [-1.30358e-002, 7.44926e-003]],
    [[-3.13292e-002, 2.06370e-002], [-2.44342e-002, 1.13731e-002], [-1.82108e-002, 9.36778e-003]],
    [[-4.28261e-002, 2.59325e-002], [-3.49619e-002, 1.43046e-002], [-2.57855e-002, 1.17912e-002]],
    [[-5.91733e-002, 3.25054e-002], [-5.06072e-002, 1.79513e-002], [-3.69401e-002, 1.48094e-002]],
    [[-8.26348e-002, 4.05894e-002], [-7.40348e-002, 2.24476e-002], [-5.34977e-002, 1.85371e-002]],
    [[-1.17018e-001, 5.08116e-002], [-1.09516e-001, 2.81387e-002], [-7.85097e-002, 2.32872e-002]],
    [[-1.67714e-001, 6.37872e-002], [-1.63378e-001, 3.53729e-002], [-1.16419e-001, 2.93723e-002]],
    [[-2.42528e-001, 7.98576e-002], [-2.45161e-001, 4.43370e-002], [-1.73972e-001, 3.70015e-002]],
    [[-3.53142e-001, 9.96330e-002], [-3.69163e-001, 5.53535e-002], [-2.61399e-001, 4.65428e-002]],
    [[-5.16316e-001, 1.24177e-001], [-5.55473e-001, 6.89403e-002], [-3.93998e-001, 5.86715e-002]],
    [[-7.56635e-001, 1.55023e-001], [-8.34281e-001, 8.58123e-002], [-5.94547e-001, 7.43960e-002]],
    [[-1.10165e+000, 1.91713e-001], [-1.23939e+000, 1.05243e-001], [-8.91666e-001, 9.40354e-002]],
    [[-1.58477e+000, 2.39049e-001], [-1.80505e+000, 1.28794e-001], [-1.32500e+000, 1.21333e-001]],
    [[-2.50630e+000, 1.42308e-001], [-2.19464e+000, 2.76470e-001], [-1.90231e+000, 1.47304e-001]],
])
#: Gain of the first stage of each band filter; stages 2 and 3 have gain 1 (Table A.2).
FILTER_GAIN = _frozen([
    4.30764e-011, 8.59340e-011, 1.71424e-010, 3.41944e-010, 6.82035e-010, 1.36026e-009,
    2.71261e-009, 5.40870e-009, 1.07826e-008, 2.14910e-008, 4.28228e-008, 8.54316e-008,
    1.70009e-007, 3.38215e-007, 6.71990e-007, 1.33531e-006, 2.65172e-006, 5.25477e-006,
    1.03780e-005, 2.04870e-005, 4.05198e-005, 7.97914e-005, 1.56511e-004, 3.04954e-004,
    5.99157e-004, 1.16544e-003, 2.27488e-003, 3.91006e-003,
])

# --- Time constants (clause 6) ---------------------------------------------------------
#: Smoothing of squared band signals: three first-order low-passes with
#: τ = 2/(3 f_c) for f_c ≤ 1 kHz, else 2/(3 · 1 kHz) (6.3; A.4 ``f_square_and_smooth``).
SMOOTHING_TAU_S = _frozen(2.0 / (3.0 * np.minimum(EXACT_CENTRES_HZ, 1000.0)))
#: Nonlinear temporal decay time constants τ_short, τ_long, τ_var (A.4 ``TSHORT`` ...).
NL_TAU_SHORT_S = 0.005
NL_TAU_LONG_S = 0.015
NL_TAU_VAR_S = 0.075
#: Inner iterations (virtual upsampling) of decay and weighting at the 0.5 ms level
#: step, i.e. an inner rate of 48 kHz (A.4 ``NL_ITER``, ``LP_ITER``).
INNER_ITERATIONS_AT_LEVEL_RATE = 24
INNER_RATE_HZ = LEVEL_RATE_HZ * INNER_ITERATIONS_AT_LEVEL_RATE
#: Temporal weighting of total loudness: 0.47 · LP(3.5 ms) + 0.53 · LP(70 ms)
#: (A.4 ``f_temporal_weight_loudness``).
TW_TAU_SHORT_S = 3.5e-3
TW_TAU_LONG_S = 70e-3
TW_WEIGHT_SHORT = 0.47
TW_WEIGHT_LONG = 0.53

# --- Core loudness (Table A.3 to A.7) ------------------------------------------------------
#: Upper level limits RAP of the eight ranges for the low-frequency correction, dB (A.3).
RAP_DB = _frozen([45, 55, 65, 71, 80, 90, 100, 120])
#: Level reductions DLL of the 11 bands 25-250 Hz within each RAP range, dB (Table A.3).
DLL_DB = _frozen([
    [-32, -24, -16, -10, -5, 0, -7, -3, 0, -2, 0],
    [-29, -22, -15, -10, -4, 0, -7, -2, 0, -2, 0],
    [-27, -19, -14, -9, -4, 0, -6, -2, 0, -2, 0],
    [-25, -17, -12, -9, -3, 0, -5, -2, 0, -2, 0],
    [-23, -16, -11, -7, -3, 0, -4, -1, 0, -1, 0],
    [-20, -14, -10, -6, -3, 0, -4, -1, 0, -1, 0],
    [-18, -12, -9, -6, -2, 0, -3, -1, 0, -1, 0],
    [-15, -10, -8, -4, -2, 0, -3, -1, 0, -1, 0],
])
#: Band index ranges [start, stop) of the 11 low bands summed into the first three
#: critical bands (A.4 ``f_calc_lcbs``: 25-80 Hz, 100-160 Hz, 200-250 Hz).
LOW_CRITICAL_BAND_SLICES = ((0, 6), (6, 9), (9, 11))
#: Ear transmission correction a0 per critical band, dB (Table A.4).
A0_DB = _frozen([0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                 -0.5, -1.6, -3.2, -5.4, -5.6, -4, -1.5, 2, 5, 12])
#: Level difference diffuse minus free field ΔL_DF per critical band, dB (Table A.5).
DDF_DB = _frozen([0, 0, 0.5, 0.9, 1.2, 1.6, 2.3, 2.8, 3, 2,
                  0, -1.4, -2, -1.9, -1, 0.5, 3, 4, 4.3, 4])
#: Critical-band level at threshold in quiet L_TQ, dB (Table A.6).
LTQ_DB = _frozen([30, 18, 12, 8, 7, 6, 5, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3])
#: Third-octave to critical-band level correction ΔL_CB, dB (Table A.7).
DCB_DB = _frozen([-0.25, -0.6, -0.8, -0.8, -0.5, 0, 0.5, 1.1, 1.5, 1.7,
                  1.8, 1.8, 1.7, 1.6, 1.4, 1.2, 0.8, 0.5, 0, -0.5])
#: Exponent-law constants of the core loudness, N'_core = 0.0635 · 10^(0.025 L_TQ) ·
#: ((1 − s + s · 10^((L_E − L_TQ)/10))^0.25 − 1) with s = 0.25 (A.4, Zwicker's law).
CORE_LOUDNESS_SCALE = 0.0635
CORE_LOUDNESS_S = 0.25
CORE_LOUDNESS_EXPONENT = 0.25

# --- Specific loudness slopes (Table A.8 and A.9) --------------------------------------
#: Upper limits ZUP of the 20 approximated critical bands plus the closing band, Bark
#: (Table A.8).
ZUP_BARK = _frozen([0.9, 1.8, 2.8, 3.5, 4.4, 5.4, 6.6, 7.9, 9.2, 10.6, 12.3,
                    13.8, 15.2, 16.7, 18.1, 19.3, 20.6, 21.8, 22.7, 23.6, 24.0])
#: Margin added to ZUP before comparing with the 0.1-Bark grid (A.4 ``f_calc_slopes``).
ZUP_MARGIN_BARK = 1e-4
#: Ranges RNS of specific loudness selecting the slope steepness, sone/Bark (Table A.9).
RNS_SONE_PER_BARK = _frozen([21.5, 18.0, 15.1, 11.5, 9.0, 6.1, 4.4, 3.1, 2.13, 1.36,
                             0.82, 0.42, 0.30, 0.22, 0.15, 0.10, 0.035, 0.0])
#: Steepness USL of the upper slopes, (sone/Bark)/Bark, per RNS range (rows) and
#: critical band group (columns, bands ≥ 8 share the last) (Table A.9). Row 13,
#: column 5 is 0.22 as in the ISO reference program (the 1991 BASIC listing has 0.24).
USL = _frozen([
    [13.00, 8.20, 6.30, 5.50, 5.50, 5.50, 5.50, 5.50],
    [9.00, 7.50, 6.00, 5.10, 4.50, 4.50, 4.50, 4.50],
    [7.80, 6.70, 5.60, 4.90, 4.40, 3.90, 3.90, 3.90],
    [6.20, 5.40, 4.60, 4.00, 3.50, 3.20, 3.20, 3.20],
    [4.50, 3.80, 3.60, 3.20, 2.90, 2.70, 2.70, 2.70],
    [3.70, 3.00, 2.80, 2.35, 2.20, 2.20, 2.20, 2.20],
    [2.90, 2.30, 2.10, 1.90, 1.80, 1.70, 1.70, 1.70],
    [2.40, 1.70, 1.50, 1.35, 1.30, 1.30, 1.30, 1.30],
    [1.95, 1.45, 1.30, 1.15, 1.10, 1.10, 1.10, 1.10],
    [1.50, 1.20, 0.94, 0.86, 0.82, 0.82, 0.82, 0.82],
    [0.72, 0.67, 0.64, 0.63, 0.62, 0.62, 0.62, 0.62],
    [0.59, 0.53, 0.51, 0.50, 0.42, 0.42, 0.42, 0.42],
    [0.40, 0.33, 0.26, 0.24, 0.22, 0.22, 0.22, 0.22],
    [0.27, 0.21, 0.20, 0.18, 0.17, 0.17, 0.17, 0.17],
    [0.16, 0.15, 0.14, 0.12, 0.11, 0.11, 0.11, 0.11],
    [0.12, 0.11, 0.10, 0.08, 0.08, 0.08, 0.08, 0.08],
    [0.09, 0.08, 0.07, 0.06, 0.06, 0.06, 0.06, 0.05],
    [0.06, 0.05, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02],
])

#: Critical-band-rate axis of the specific loudness: z = 0.1 … 24.0 Bark (240 values).
BARK_AXIS = _frozen(np.round(np.arange(1, 241) * 0.1, 1))
#: Step of the critical-band-rate axis, Bark.
DZ_BARK = 0.1
