"""LogView's filter: narrows to the matching lines (plain text or /regex/), toggled from
highlight-only, still bounded by the ring buffer."""

from __future__ import annotations

import pytest

from widgets import LogView
from widgets.log_view import compile_term

from .hosts import LogApp


def screen_text(log: LogView) -> list[str]:
    return [log.render_line(y).text.rstrip() for y in range(log.size.height)]


def test_a_term_is_plain_text_in_any_case_or_a_regex_between_slashes():
    assert compile_term("GET /x").search("get /x 200")
    assert compile_term("a.c").search("abc") is None  # plain: the dot is a dot
    assert compile_term(r"/5\d\d/").search("HTTP 503")
    assert compile_term(r"/5\d\d/").search("HTTP 404") is None
    with pytest.raises(ValueError, match="not a regular expression"):
        compile_term("/(unclosed/")


async def test_filter_shows_only_matching_lines_and_back():
    app = LogApp(max_lines=1_000)
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(LogView)
        log.append(f"req {n} status {200 if n % 10 else 503}" for n in range(100))
        assert log.search(r"/5\d\d/") == 10
        log.set_filtering(True)
        log.follow = True
        await pilot.pause()
        rows = [r for r in screen_text(log) if r]
        assert rows and all("503" in r for r in rows) and rows[-1] == "req 90 status 503"
        assert len(log.shown_lines()) == 10
        log.append(["req 100 status 500", "req 101 status 200"])
        await pilot.pause()
        assert screen_text(log)[-1] == "req 100 status 500"  # a new match shows; the rest not
        log.set_filtering(False)
        await pilot.pause()
        assert screen_text(log)[-1] == "req 101 status 200"
        with pytest.raises(ValueError):
            log.search("/[/")
        assert log.search_term == r"/5\d\d/"  # a bad term changes nothing


async def test_filter_is_still_bounded_by_the_ring_buffer():
    app = LogApp(max_lines=50)
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(LogView)
        log.search("keep")
        log.set_filtering(True)
        for batch in range(20):
            log.append(f"{'keep' if n % 2 else 'drop'} {batch}-{n}" for n in range(50))
        await pilot.pause()
        assert log.line_count == 50 and log.match_count == 25
        assert log.shown_lines()[-1] == "keep 19-49" and log.shown_lines()[0] == "keep 19-1"
