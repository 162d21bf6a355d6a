"""The web console: static pages (login, live wall, admin page) served by the live service.

Plain HTML, CSS and ES modules, no build step. :data:`STATIC_DIR` is the directory the
server mounts at ``/``; ``index.html`` there sends each role to its page.
"""

from __future__ import annotations

from pathlib import Path

#: The console's files, served as they are.
STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["STATIC_DIR"]
