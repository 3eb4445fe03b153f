"""Filesystem implementations of :mod:`ridelines.ports` for the command line (no AWS at all)."""
