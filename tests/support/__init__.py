"""Helpers the tests share (never tests themselves)."""
