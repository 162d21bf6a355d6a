"""Batch pre-inspection of recorded calls (checks over a whole two-channel call)."""
