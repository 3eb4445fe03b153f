"""Sync orchestration: the resumable, incremental sync shared by the Lambda and the CLI."""
