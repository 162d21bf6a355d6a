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


def test_control_characters_a_client_sent_cannot_forge_log_lines():
    # a seat id with a newline wrote a standalone forged WARNING line into server.log,
    # a NUL made the log a binary file to grep
    forged = "S1\n2026-11-30 13:31:02,688 WARNING voiceline.server: FORGED reset\x00\u2028"
    record = logging.LogRecord("voiceline.server", logging.INFO, __file__, 1,
                               "call %s on seat %s (%s): %d frames",
                               ("c1", forged, ValueError(f"bad seat {forged}"), 3), None)
    assert RedactTokens().filter(record)
    line = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line and "\x00" not in line and "\u2028" not in line
    assert line.startswith("INFO call c1 on seat S1\\n2026-11-30 13:31:02,688 WARNING")
    assert line.endswith("reset\\x00\\u2028): 3 frames")
