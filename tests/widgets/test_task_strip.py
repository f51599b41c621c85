"""TaskStrip: progress bars, status, newest first, fading finished tasks."""

from __future__ import annotations

from backends.models import TaskStatus
from widgets import TaskStrip

from .hosts import StripApp, task


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lines(strip: TaskStrip) -> list[str]:
    return [strip.render_line(y).text.rstrip() for y in range(strip.size.height)]


async def test_shows_progress_status_and_message_newest_first():
    clock = Clock()
    app = StripApp(clock)
    async with app.run_test(size=(100, 10)) as pilot:
        strip = app.query_one(TaskStrip)
        await pilot.pause()
        assert "No tasks" in lines(strip)[0]
        strip.update_tasks(
            [
                task(1, TaskStatus.RUNNING, 50, "cloning disk"),
                task(2, TaskStatus.QUEUED, 0, "waiting"),
            ]
        )
        await pilot.pause()
        shown = lines(strip)
        assert len(shown) == 2
        assert "web-02" in shown[0] and "queued" in shown[0]
        assert "web-01" in shown[1] and "50%" in shown[1] and "cloning disk" in shown[1]
        assert "██████████░░░░░░░░░░" in shown[1]  # half of a 20-cell bar
        strip.update_tasks([task(1, TaskStatus.FAILED, 70, error="disk full")])
        await pilot.pause()
        assert "failed" in lines(strip)[1] and "disk full" in lines(strip)[1]


async def test_at_most_max_lines_active_first_and_finished_ones_fade_then_leave():
    clock = Clock()
    app = StripApp(clock)
    async with app.run_test(size=(100, 10)) as pilot:
        strip = app.query_one(TaskStrip)
        strip.update_tasks([task(n, TaskStatus.SUCCEEDED, 100, "done") for n in range(1, 4)])
        strip.update_tasks([task(n, TaskStatus.RUNNING, 10 * n) for n in range(4, 7)])
        strip.update_tasks([task(9, TaskStatus.RUNNING, 5, parent_id="t4")])  # a child: hidden
        await pilot.pause()
        assert [t.id for t in strip.shown] == ["t6", "t5", "t4", "t3"]
        assert len(lines(strip)) == 4
        finished_line = strip.render_line(3)
        assert not any(s.style and s.style.dim for s in finished_line)
        clock.now = 11.0
        strip.update_tasks(())
        await pilot.pause()
        assert any(s.style and s.style.dim for s in strip.render_line(3))
        clock.now = 61.0
        strip.update_tasks(())
        assert [t.id for t in strip.shown] == ["t6", "t5", "t4"]
