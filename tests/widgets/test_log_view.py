"""LogView: a bounded ring buffer, follow and pause, and search with n / N."""

from __future__ import annotations

from widgets import LogView

from .hosts import LogApp


def screen_text(log: LogView) -> list[str]:
    return [log.render_line(y).text.rstrip() for y in range(log.size.height)]


async def test_ring_buffer_keeps_only_the_last_lines():
    app = LogApp(max_lines=100)
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(LogView)
        for batch in range(10):
            log.append(f"line {batch * 50 + n}" for n in range(50))
        assert log.line_count == 100
        assert log.lines[0] == "line 400" and log.lines[-1] == "line 499"
        await pilot.pause()
        assert screen_text(log)[-1] == "line 499"  # following: the newest line shows


async def test_scrolling_up_pauses_follow_and_end_resumes():
    app = LogApp(max_lines=1_000)
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(LogView)
        log.append(f"line {n}" for n in range(200))
        await pilot.pause()
        assert log.follow
        await pilot.press("k", "k", "k")
        await pilot.pause()
        assert not log.follow
        shown = screen_text(log)
        log.append(f"more {n}" for n in range(50))
        await pilot.pause()
        assert screen_text(log) == shown  # paused: the view does not move
        await pilot.press("end")
        await pilot.pause()
        assert log.follow and screen_text(log)[-1] == "more 49"
        await pilot.press("pageup")
        await pilot.pause()
        assert not log.follow
        await pilot.press("f")
        await pilot.pause()
        assert log.follow and screen_text(log)[-1] == "more 49"


async def test_paused_view_stays_on_its_lines_while_old_ones_drop():
    app = LogApp(max_lines=100)
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(LogView)
        log.append(f"line {n}" for n in range(100))
        await pilot.pause()
        await pilot.press("home")
        await pilot.press("j", "j", "j", "j", "j", "j", "j", "j", "j", "j")
        await pilot.pause()
        assert not log.follow
        top = screen_text(log)[0]
        log.append(f"line {n}" for n in range(100, 105))
        await pilot.pause()
        assert screen_text(log)[0] == top


async def test_search_highlights_and_n_N_step_through_matches():
    app = LogApp(max_lines=1_000)
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(LogView)
        log.append(f"{'ERROR' if n % 40 == 0 else 'info'} request {n}" for n in range(200))
        assert log.search("error") == 5
        await pilot.pause()
        assert not log.follow
        assert log.lines[log.current_match_line] == "ERROR request 0"
        await pilot.press("n")
        assert log.lines[log.current_match_line] == "ERROR request 40"
        await pilot.pause()
        assert "ERROR request 40" in screen_text(log)
        await pilot.press("N", "N")
        assert log.lines[log.current_match_line] == "ERROR request 160"  # wraps around
        # The match is highlighted: its segment carries the match style, other text does not.
        y = screen_text(log).index("ERROR request 160")
        segments = list(log.render_line(y))
        highlighted = [s.text for s in segments if s.style and s.style.bgcolor != log.rich_style.bgcolor]
        assert highlighted == ["ERROR"]
        log.append(["ERROR late"])
        assert log.match_count == 6
        assert log.search("") == 0


async def test_escape_sequences_and_control_characters_never_reach_the_terminal():
    app = LogApp(max_lines=10)
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(LogView)
        log.append(["\x1b[31mred\x1b[0m alert\r\n", "bell\x07 and \x1b]0;title\x07tab\there\x1b[2J"])
        # The title and the clear are gone; the bell is shown, not rung; tabs are expanded.
        assert list(log.lines) == ["red alert", "bell␇ and tab   here"]
        await pilot.pause()
        assert screen_text(log)[:2] == ["red alert", "bell␇ and tab   here"]
        segments = list(log.render_line(0))
        assert all("\x1b" not in s.text and "\x07" not in s.text for y in range(2) for s in log.render_line(y))
        # The colour stays, on the word it was on (and searching still finds the line).
        red = [s.text for s in segments if s.style and s.style.color and s.style.color.name == "color(1)"]
        assert red == ["red"]
        assert log.search("red alert") == 1
        highlighted = [s.text for s in log.render_line(0) if s.style and s.style.bgcolor != log.rich_style.bgcolor]
        assert "".join(highlighted) == "red alert"
