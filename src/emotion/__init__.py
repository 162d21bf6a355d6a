"""The analysis: psychoacoustics, prosody, feature windows, baselines and scoring.

Arrays carry a leading stream axis ``(streams, ...)`` so that many seats advance in
one vectorised step. ``emotion`` may import ``capture`` but never knows about servers.
"""
