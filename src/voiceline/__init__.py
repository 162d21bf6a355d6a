"""Voiceline application shell: command line, configuration, server, store, reports."""

__version__ = "0.2.0"
