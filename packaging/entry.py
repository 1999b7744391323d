"""Entry point of the standalone build (PyInstaller runs this file)."""

from recconsole.cli import main

raise SystemExit(main())
