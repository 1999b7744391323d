from __future__ import annotations

from recconsole.cli import main

raise SystemExit(main())
