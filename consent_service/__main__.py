"""``python -m consent_service`` runs the command line."""

from consent_service.cli.main import main

raise SystemExit(main())
