"""The public HTTP API of contract v1: site config, consent, health, GPC, metrics."""
