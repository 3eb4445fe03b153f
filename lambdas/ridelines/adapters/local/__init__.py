"""Filesystem implementations of :mod:`ridelines.ports` for the command line (no AWS at all)."""

from ridelines.adapters.local.blobs import FileBlobStore

__all__ = ["FileBlobStore"]
