"""Where audio comes from: files, G.711, resampling, level calibration, live sources.

``capture`` turns bytes and files into sample arrays with a known rate and level;
it never computes features (that is ``emotion``'s job).
"""
