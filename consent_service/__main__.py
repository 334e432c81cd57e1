"""``python -m consent_service`` runs the command line."""

from consent_service.cli.main import main

# Guarded: verify's worker processes start by "spawn", which imports this module again
# (as ``__mp_main__``) in each of them.
if __name__ == "__main__":
    raise SystemExit(main())
