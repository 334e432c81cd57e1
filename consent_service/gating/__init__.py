"""Keeping trackers off until allowed: the gate, the declaration, the leak scanner."""
