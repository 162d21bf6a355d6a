"""The server's logs: tokens blanked without breaking uvicorn's access lines."""

from __future__ import annotations

import logging

from uvicorn.logging import AccessFormatter

from voiceline.server.run import RedactTokens


def test_an_access_line_with_a_token_keeps_its_shape_and_loses_the_token():
    # uvicorn's access formatter reads the record's five arguments by position; audio
    # playback's URLs carry ``audio_token=`` on every request
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/qa/calls/c1/audio?audio_token=eyJ.SIG&x=1", "1.1",
         206), None)
    assert RedactTokens().filter(record)
    line = AccessFormatter("%(client_addr)s - \"%(request_line)s\" %(status_code)s",
                           use_colors=False).format(record)
    assert line == ('127.0.0.1:5000 - "GET /api/qa/calls/c1/audio?audio_token=***&x=1 '
                    'HTTP/1.1" 206 Partial Content')
