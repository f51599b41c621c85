"""widgets.terminal_text: text from outside is shown, never obeyed by the terminal."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from widgets.terminal_text import UNSAFE_CHARACTERS, sgr_text, visible, visible_text

HOSTILE_NAME = "evil\x1b]0;PWNED\x07\x1b[2J"

# Text biased towards the dangerous: every unsafe character, ESC sequences' bytes, and any
# other character at all.
_unsafe = st.sampled_from(sorted(UNSAFE_CHARACTERS))
_pieces = st.one_of(_unsafe, st.sampled_from(["\x1b[", "\x1b]", "m", ";", "0", "\x07", "\x1b\\", "[", "]"]), st.characters())
hostile_text = st.lists(_pieces, max_size=40).map("".join)
clean_text = st.text(st.characters(blacklist_characters=sorted(UNSAFE_CHARACTERS)))


def _unsafe_in(text: str) -> set[str]:
    return set(text) & UNSAFE_CHARACTERS


# ------------------------------------------------------------------------------------ visible


@given(hostile_text)
def test_visible_never_lets_a_control_through(text):
    assert _unsafe_in(visible(text)) == set()


@given(hostile_text)
def test_visible_keeps_only_what_it_is_asked_to_keep(text):
    assert _unsafe_in(visible(text, newlines=True, tabs=True)) <= {"\n", "\t"}


@given(clean_text)
def test_clean_text_comes_back_unchanged_as_the_same_object(text):
    assert visible(text) is text


def test_the_pictures():
    assert visible(HOSTILE_NAME) == "evil␛]0;PWNED␇␛[2J"
    assert visible("a\x00b\x1fc\x7fd") == "a␀b␟c␡d"
    assert visible("one\ntwo") == "one␊two"
    assert visible("a\tb") == "a b"
    assert visible("\x9b2J") == "\\x9b2J"
    assert visible("abc\u202edef\u2066") == "abc\\u202edef\\u2066"
    assert visible("one\ntwo\tthree", newlines=True, tabs=True) == "one\ntwo\tthree"


def test_harmless_unprintable_characters_stay():
    # A no-break space or an emoji's zero-width joiner are not controls: they stay as they are.
    for text in ("a\u00a0b", "👩\u200d💻"):
        assert visible(text) is text


def test_visible_is_fast_on_clean_text():
    # It runs on every cell of 100,000-row tables: a million clean cells well under a second.
    cells = [f"container-{n:06d}" for n in range(1_000_000)]
    started = time.perf_counter()
    for cell in cells:
        visible(cell)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{elapsed:.2f}s for a million clean cells"


# ------------------------------------------------------------------------------------ visible_text


def test_visible_text_keeps_styles_on_the_same_characters():
    from rich.text import Text

    text = Text.assemble(("name \x9b", "bold"), (" \x1b[2Jstate", "red"))
    cleaned = visible_text(text)
    assert cleaned.plain == "name \\x9b ␛[2Jstate"
    bold = {cleaned.plain[s.start : s.end] for s in cleaned.spans if str(s.style) == "bold"}
    red = {cleaned.plain[s.start : s.end] for s in cleaned.spans if str(s.style) == "red"}
    assert bold == {"name \\x9b"} and red == {" ␛[2Jstate"}
    plain = Text("all clean", style="green")
    assert visible_text(plain) is plain


# ------------------------------------------------------------------------------------ sgr_text


def _terminal_bytes(text) -> str:
    """What the terminal would receive for this Text."""
    console = Console(force_terminal=True, color_system="truecolor", width=200, legacy_windows=False)
    with console.capture() as capture:
        console.print(text, end="")
    return capture.get()


def test_sgr_text_keeps_colour_and_drops_every_other_sequence():
    line = "start\x1b]0;PWNED\x07\x1b[2J\x1b[H\x1b[31mred\x1b[0m plain \x1b[1;32mgreen\x1b[m end"
    text = sgr_text(line)
    assert text.plain == "startred plain green end"
    styles = {text.plain[s.start : s.end]: s.style for s in text.spans}
    assert styles["red"].color.name == "color(1)"
    assert styles["green"].bold and styles["green"].color.name == "color(2)"
    sent = _terminal_bytes(text)
    assert "\x1b]" not in sent and "\x1b[2J" not in sent and "\x1b[H" not in sent and "\x07" not in sent
    assert "\x1b[31m" in sent  # the colour does reach the terminal


def test_sgr_text_drops_hyperlinks_strings_and_lone_escapes():
    line = (
        "a\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\"  # OSC 8 hyperlink: the text stays
        "\x1bPq#0;1;2\x1b\\"  # DCS (sixel)
        "\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\"  # APC, PM, SOS
        "\x9b2J\x9d0;title\x07"  # 8-bit CSI and OSC
        "\x1bc\x1b7\x1b(B"  # reset, save cursor, charset
        "b\x1b"  # a lone ESC at the end
    )
    text = sgr_text(line)
    assert text.plain == "alinkb"
    assert not text.spans  # no link, no style from anything removed
    assert "\x1b]8" not in _terminal_bytes(text)


def test_sgr_text_unterminated_title_is_dropped_to_the_end_of_the_line():
    assert sgr_text("ok\x1b]0;PWNED forever").plain == "ok"


def test_sgr_text_shows_leftover_controls_and_never_hides_text():
    text = sgr_text("a\x07b\rc\x08d\ttab \x1b[8msecret\x1b[0m \x1b[5mblink")
    assert text.plain == "a␇b␍c␈d\ttab secret blink"
    for span in text.spans:
        assert not span.style.conceal and not span.style.blink


@given(hostile_text)
def test_sgr_text_never_sends_a_control_but_its_own_colours(text):
    decoded = sgr_text(text)
    assert _unsafe_in(decoded.plain) <= {"\t"}
    sent = _terminal_bytes(decoded)
    # Rich writes only SGR sequences for a Text without links: strip them, nothing unsafe left.
    import re

    assert _unsafe_in(re.sub(r"\x1b\[[0-9;]*m", "", sent)) <= {"\t"}


@settings(max_examples=200)
@given(clean_text)
def test_sgr_text_of_clean_text_is_that_text(text):
    decoded = sgr_text(text)
    assert decoded.plain == text and not decoded.spans
