"""Helpers only tests use: the named test world (it builds every room, so it lives above them all)."""
