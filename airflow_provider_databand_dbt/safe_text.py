"""Text from dbt Cloud made safe for a terminal or a text log: control characters become visible escapes.

Job names, node messages and the like come from whoever can edit the dbt Cloud project. Printed raw, an
ESC sequence can clear the screen or set the window title, and a line break can forge a log line. JSON
output needs none of this: its encoder escapes control characters itself, so values stay exact there.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls (U+009B is a one-character CSI), Unicode line/paragraph separators and the
# bidirectional overrides that can make text read differently from what it is ("Trojan Source").
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\n``, ``\\u202e``).

    :param keep_newlines: leave ``\\n`` alone, for text we print on several lines ourselves.
    """
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub(_escape, text) if pattern.search(text) else text
