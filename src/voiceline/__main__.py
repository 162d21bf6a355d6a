"""``python -m voiceline`` runs the command line."""

from voiceline.cli import main

raise SystemExit(main())
