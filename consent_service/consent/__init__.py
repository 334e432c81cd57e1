"""Consent itself: the pure rules, the choices, the signed token, minimisation."""
