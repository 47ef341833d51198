"""Replay: folding the log back into state, and checking it against the live views."""
