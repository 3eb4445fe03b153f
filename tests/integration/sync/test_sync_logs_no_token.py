"""The sync Lambda decrypts the rider's intervals.icu token: it must never reach a log line, at any level."""

from __future__ import annotations

import base64
import io
import logging
from typing import Any

import pytest


def test_the_decrypted_token_is_never_logged(world: Any, capfd: pytest.CaptureFixture[str]) -> None:
    from ridelines.pipeline.lambda_entry import SYNC_LOGGERS, logger

    (token,) = world.standin.tokens  # the one the user row holds, encrypted
    handler: Any = logger.handlers[0]
    buffer = io.StringIO()
    previous_stream = handler.setStream(buffer)
    levels = {name: logging.getLogger(name).level for name in SYNC_LOGGERS}
    previous_level = logger.log_level
    logger.setLevel(logging.DEBUG)
    for name in SYNC_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        # a sync with retried failures (warnings), then one that fails on a revoked token (errors)
        world.standin.faults.inject(r"/api/v1/activity/a1/file", "500", times=2)
        assert world.trigger()["status"] == "succeeded"
        world.standin.faults.inject(r"/api/v1/activity/a2/file", "401", times=1)
        assert world.trigger(full=True)["status"] == "failed"
    finally:
        handler.setStream(previous_stream)
        logger.setLevel(previous_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    logs = buffer.getvalue()
    # the capture saw the sync's retried download (warning) and the failed sync (error)
    assert '"level":"WARNING"' in logs and '"level":"ERROR"' in logs
    printed = capfd.readouterr()
    for text in (logs, printed.out, printed.err):
        assert token not in text
        assert base64.b64encode(token.encode()).decode() not in text
        assert "Bearer " not in text
