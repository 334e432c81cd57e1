"""The command line: ``consent-service serve | migrate | verify | export | …``."""
