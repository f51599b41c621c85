"""Text from outside (servers, containers, labels, log lines, files) made safe for a terminal.

A name, a message or a log line is data: it must never reach the terminal as a command. An
escape sequence in a VM's name would otherwise set the window title, clear the screen, move the
cursor or hide what follows; a bidi override would make text read other than it is. Every such
string goes through ``visible`` (or ``sgr_text`` for log lines, which keeps their colours) on
its way to the screen, the CLI's output included.

- ``visible(text)``: every control is shown, not obeyed. ESC is ``␛``, the other C0 controls
  are their Unicode control pictures (``␀``…``␟``), DEL is ``␡``, C1 controls and the bidi
  overrides and isolates are written out (``\\x9b``, ``\\u202e``). A tab is a space and a newline
  ``␊`` unless the caller keeps them. Clean text comes back as the same object, fast: it runs
  over every cell of 100,000-row tables.
- ``sgr_text(line)``: a log line as ``rich.text.Text`` with its SGR colours (``ESC [ … m``) and
  nothing else: every other escape sequence (cursor moves, clears, OSC titles and hyperlinks,
  DCS/APC/PM/SOS strings, a lone ESC) is removed, and what control is left is made visible.

This module knows nothing of the domain or the console (widgets/ import neither), and imports
Rich only when ``sgr_text`` is called, so the CLI stays quick to start.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["visible", "sgr_text", "visible_text", "UNSAFE_CHARACTERS"]

_C0 = range(0x00, 0x20)
_C1 = range(0x80, 0xA0)
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))

# What a terminal might obey rather than show: C0, DEL, C1, bidi overrides and isolates.
UNSAFE_CHARACTERS = frozenset(chr(c) for c in (*_C0, 0x7F, *_C1, *_BIDI))


def _table(*, tabs: bool, newlines: bool) -> dict[int, str]:
    table = {c: chr(0x2400 + c) for c in _C0}  # ␀ … ␟: the control pictures block
    table[0x7F] = "␡"
    table.update({c: f"\\x{c:02x}" for c in _C1})  # no picture exists: write the code out
    table.update({c: f"\\u{c:04x}" for c in _BIDI})
    table[0x09] = "\t" if tabs else " "
    if newlines:
        table[0x0A] = "\n"
    return table


_UNSAFE = re.compile("[" + re.escape("".join(sorted(UNSAFE_CHARACTERS))) + "]")
_TABLES = {
    (tabs, newlines): _table(tabs=tabs, newlines=newlines) for tabs in (False, True) for newlines in (False, True)
}


def visible(text: str, *, newlines: bool = False, tabs: bool = False) -> str:
    """``text`` with every control character shown instead of obeyed.

    ``newlines=True`` keeps ``\\n`` (multi-line text such as an inspect dump); ``tabs=True``
    keeps ``\\t`` (for a caller that expands tabs itself). Returns ``text`` itself when there is
    nothing to clean.
    """
    # str.isprintable is one C loop and false for every unsafe character (they are all Cc or
    # Cf): the common clean string costs one call. It is also false for harmless characters
    # (a no-break space, a zero-width joiner), so look again before copying.
    if text.isprintable() or _UNSAFE.search(text) is None:
        return text
    return text.translate(_TABLES[tabs, newlines])


def visible_text(text: "Text") -> "Text":
    """A Rich ``Text`` (styled by our own code, holding data) with its characters made visible,
    its styles kept on the same characters. The same object when there is nothing to clean."""
    plain = text.plain
    if visible(plain) is plain:
        return text
    from rich.text import Text

    # Cut at every span edge, so each piece has one set of styles over all of it; a piece may
    # grow (``\x9b`` is four characters), so the styles are laid again on the cleaned pieces.
    cuts = sorted({edge for span in text.spans for edge in (span.start, span.end)} - {0, len(plain)})
    result = Text(style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap, end=text.end)
    for piece in text.divide(cuts):
        cleaned = Text(visible(piece.plain))
        for span in piece.spans:
            cleaned.stylize(span.style)
        result.append_text(cleaned)
    return result


# Escape sequences, each tried at an ESC (or the C1 character that stands for ESC + letter).
# A string sequence (OSC, DCS, SOS, PM, APC) runs to its terminator or, unterminated, to the
# end of the line: whatever it carried is never shown nor obeyed.
_SEQUENCE = re.compile(
    r"""
    (?P<sgr>\x1b\[[0-9;:]*m)                                   # colours and attributes: kept
    | (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?                        # any other CSI: dropped
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|\Z)  # OSC, DCS, SOS, PM, APC
    | \x1b[ -/]*[0-~]?                                          # other escapes, a lone ESC
    """,
    re.VERBOSE | re.DOTALL,
)


def sgr_text(line: str) -> "Text":
    """A terminal line as styled Text: its SGR colours kept, every other sequence removed,
    what control is left made visible (tabs kept, for ``Text.expand_tabs``)."""
    from rich.ansi import AnsiDecoder
    from rich.style import Style
    from rich.text import Text

    if line.isprintable():
        return Text(line)
    parts: list[str] = []
    position = 0
    kept_sgr = False
    for match in _SEQUENCE.finditer(line):
        parts.append(visible(line[position : match.start()], tabs=True))
        if match.group("sgr"):
            parts.append(match.group("sgr"))
            kept_sgr = True
        position = match.end()
    parts.append(visible(line[position:], tabs=True))
    clean = "".join(parts)
    if not kept_sgr:
        return Text(clean)
    # Only SGR sequences are left, and no CR (made visible above): the decoder can do nothing
    # else. A decoder per line: colours never leak from one line into the next.
    text = AnsiDecoder().decode_line(clean)
    spans = text.spans
    for index, span in enumerate(spans):
        style = span.style
        # Colours, yes; text hidden (conceal) or blinking, no: what is there must be readable.
        if isinstance(style, Style) and (style.conceal or style.blink or style.blink2):
            spans[index] = span._replace(style=style + Style(conceal=False, blink=False, blink2=False))
    return text
