"""kakor: a self-hosted cookie-consent service with signed cookies and a tamper-evident audit log."""

__version__ = "0.1.0"
