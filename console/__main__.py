"""`python -m console`: the same as the `ntnx-console` command."""

from console.cli import main

raise SystemExit(main())
