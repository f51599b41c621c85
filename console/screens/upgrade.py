"""`u`: upgrade machines. A form with a preview of the plan in waves (the very plan the backend
runs, from ``backends.waves.plan_waves``), then live per-host progress with pause, resume
and abort. The run stops after a failed wave unless told to go on."""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Checkbox, Input, Select, Static

from backends.contract import Capability, UpgradeSpec
from backends.errors import BackendError
from backends.models import Task, TaskStatus
from backends.waves import HEALTH_TIMEOUT, UpgradePlan, parse_version, plan_waves
from widgets.terminal_text import visible

from ..messages import VersionsLoaded
from ..presenters.base import shown, state
from ..store import Drained
from .forms import FormScreen, whole_number_problem
from .live import Live

BAR = 16  # cells of a host's progress bar


def plan_text(plan: UpgradePlan) -> Text:
    # Names, versions and reasons are the backend's: each through visible(), so none can break
    # the plan's lines or reach the terminal; the newlines are ours.
    text = Text()
    text.append(visible(f"{plan.host_count} hosts in {len(plan.waves)} waves to Docker {plan.target_version}") + "\n", style="bold")
    for warning in plan.warnings:
        text.append(visible(f"  ! {warning}") + "\n", style="bold red")
    for wave in plan.waves:
        names = ", ".join(visible(f"{h.name} ({h.from_version or '?'})") for h in wave.hosts)
        text.append(f"  wave {wave.number}: ", style="bold")
        text.append(f"{names}\n")
        for h in wave.hosts:
            if h.why:  # why it is in this wave: the failure domains the planner kept apart
                text.append(visible(f"      {h.name}: {h.why.split(': ', 1)[-1]}") + "\n", style="dim")
    for host in plan.skipped:
        text.append(visible(f"  skip {host.name}: {host.skip_reason}") + "\n", style="dim")
    if plan.waves:
        text.append(f"  after each wave: its containers must run again (healthy, where they have a check) "
                    f"within {HEALTH_TIMEOUT:g} s, or the upgrade stops\n", style="dim")
    return text


def drain_text(lines: list[str]) -> Text:
    """A swarm upgrade's preview (``backends.swarm.upgrade``): its first line bold, a refused
    wave red. The lines are the backend's names: each through visible()."""
    text = Text()
    for n, line in enumerate(lines):
        style = "bold" if n == 0 else ("bold red" if "REFUSED" in line or line.endswith(": refused") else "")
        text.append(visible(line) + "\n", style=style)
    return text


LEFT_OUT = re.compile(r"\(([^()]+?) left out: ([^()]+)\)")


def left_out_of(task: Task) -> dict[str, str]:
    """Hosts the backend says it left out of an upgrade, with why: its task's message
    carries "(a, b left out: reason)"."""
    found: dict[str, str] = {}
    for text in (task.message, task.error or ""):
        for names, reason in LEFT_OUT.findall(text):
            for name in names.split(","):
                found[name.strip()] = reason.strip()
    return found


def bar(progress: int) -> str:
    filled = round(BAR * max(0, min(100, progress)) / 100)
    return "█" * filled + "░" * (BAR - filled)


class UpgradeScreen(Live, FormScreen):
    HEADING = "Upgrade Docker Engine on container hosts"
    SUBMIT = "Start upgrade"
    BINDINGS = FormScreen.BINDINGS + [
        Binding("p", "control('pause')", "Pause", id="upgrade.pause"),
        Binding("r", "control('resume')", "Resume", id="upgrade.resume"),
        Binding("x", "control('abort')", "Abort", id="upgrade.abort"),
    ]

    def __init__(self, marked: list[str]) -> None:
        super().__init__()
        self.marked = marked
        self.task_id: str | None = None
        self.plan: UpgradePlan | None = None
        self._left_out: dict[str, str] = {}  # host name -> why the backend left it out

    def fields(self) -> ComposeResult:
        scopes = [(f"all {len(self.running_hosts())} running hosts", "all")]
        if self.marked:
            scopes.insert(0, (f"the {len(self.marked)} marked hosts", "marked"))
        yield from self.field("Hosts", Select(scopes, value=scopes[0][1], allow_blank=False, id="scope", compact=True))
        versions = self._image_versions()
        yield from self.field(
            "Target version",
            Select(versions, value=versions[0][1] if versions else Select.NULL, id="version", compact=True, prompt="choose a version"),
        )
        yield from self.field("Batch size (hosts per wave)", Input("2", id="batch", compact=True))
        yield Checkbox("go on after a failed wave", id="continue", compact=True)
        yield Static("", id="plan", classes="hint")
        yield Static("", id="plan-error", classes="error")

    def compose(self) -> ComposeResult:
        yield from super().compose()
        with VerticalScroll(classes="form", id="progress"):
            yield Static("", classes="form-title", id="progress-title")
            yield Static("", id="progress-table")
            yield Static("p pause · r resume · x abort · escape close (the upgrade goes on)", classes="hint")

    def _image_versions(self) -> list[tuple[Text, str]]:
        versions = {i.engine_version for i in self.inventory.images.values() if i.engine_version}
        return [(shown(v), v) for v in sorted(versions, key=parse_version, reverse=True)]

    def on_mount(self) -> None:
        self.query_one("#progress").display = False
        super().on_mount()
        self.run_worker(self._versions, exit_on_error=False)

    async def _versions(self) -> None:
        try:
            versions = await self.app.backend.upgrade_versions()
        except BackendError:
            return  # the images' versions stay on offer
        if versions:
            self.post_message(VersionsLoaded(versions))

    def on_versions_loaded(self, message: VersionsLoaded) -> None:
        select = self.query_one("#version", Select)
        current = select.value
        select.set_options([(shown(v), v) for v in message.versions])
        select.value = current if current in message.versions else message.versions[0]
        self.revalidate()

    def hosts(self):
        hosts = self.inventory.hosts
        if self.choice("scope") == "marked":
            return [hosts[i] for i in self.marked if i in hosts]
        # "All" means the machines that can be upgraded now; a marked one is the user's call.
        return self.running_hosts()

    def problems(self) -> dict[str, str]:
        problems: dict[str, str] = {}
        self.plan = None
        version = self.choice("version")
        if version is None:
            problems["version"] = "choose the version to upgrade to"
        if (p := whole_number_problem(self.value("batch"), "batch size", 1, None, "")):
            problems["batch"] = p
        shown: Text | str = ""
        if not problems:
            try:
                self.plan = plan_waves(self.hosts(), version, int(self.value("batch")), inventory=self.inventory)
            except BackendError as err:
                problems["plan"] = err.one_line()
            else:
                if not self.plan.waves:
                    problems["plan"] = f"nothing to do: every host is already at {version}"
                shown = plan_text(self.plan)
                if self.app.backend.kind_for(h.id for h in self.hosts()) == "swarm":  # a fleet's swarm too
                    # A swarm drains each wave: the tasks that move or stop, and a wave that
                    # would leave a service with no running task, refused as the backend would.
                    from backends.swarm.upgrade import preview

                    drain = preview(self.inventory, self.plan)
                    shown = drain_text(drain.lines())
                    if (refusal := drain.refusal()) and "plan" not in problems:
                        problems["plan"] = refusal
        self.query_one("#plan", Static).update(shown)
        return problems

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.revalidate()

    def action_submit(self) -> None:
        if self.task_id is not None:
            return
        problems = self.revalidate()
        if problems or self.plan is None:
            self.notify(f"not started: {next(iter(problems.values()), 'no plan')}", severity="warning", timeout=4)
            return
        plan = self.plan
        spec = UpgradeSpec(
            host_ids=tuple(h.host_id for w in plan.waves for h in w.hosts),
            target_version=plan.target_version,
            batch_size=int(self.value("batch")),
            continue_on_failure=self.query_one("#continue", Checkbox).value,
        )
        from .. import actions

        self.app.perform(actions.get("host.upgrade"), spec, what=f"upgrade {plan.host_count} hosts", on_started=self._started)

    def _started(self, task: Task) -> None:
        self.task_id = task.id
        self.query_one("#form").display = False
        self.query_one("#progress").display = True
        self.redraw_progress()
        self.refresh_bindings()

    def apply_changes(self, drained: Drained) -> None:
        if self.task_id is not None and (drained.touched("tasks") or drained.touched("hosts")):
            self.redraw_progress()
            self.refresh_bindings()

    def redraw_progress(self) -> None:
        inv = self.inventory
        task = inv.tasks.get(self.task_id or "")
        plan = self.plan
        if task is None or plan is None:
            self.query_one("#progress-title", Static).update("upgrade starting…")
            return
        title = Text(visible(f"Upgrade to Docker {plan.target_version}: "))
        title.append_text(state(task.status))
        title.append(visible(f"  {bar(task.progress)} {task.progress}%  {task.error or task.message}"))
        self.query_one("#progress-title", Static).update(title)
        table = Table(expand=True, box=None)
        for column, width in (("Wave", 4), ("Host", 14), ("From", 8), ("Now", 8), ("Status", 10), ("Progress", BAR)):
            table.add_column(column, no_wrap=True, min_width=width)
        table.add_column("Step", ratio=1, overflow="fold")
        for row in self.progress_rows():
            # Text cells: a Rich table reads a str cell as markup, and these are the backend's.
            table.add_row(*(shown(cell) for cell in row[:4]), row[4], bar(row[5]), shown(row[6]))
        self.query_one("#progress-table", Static).update(table)

    def progress_rows(self) -> list[tuple[str, str, str, str, Text, int, str]]:
        """One row per host: wave, host, from, now, status, progress, current step.

        A host's progress is its child task as the backend reports it (``child_ids`` /
        ``parent_id``); a planned host the backend said it left out shows that, with why.
        """
        inv = self.inventory
        task = inv.tasks.get(self.task_id or "")
        if task is None or self.plan is None:
            return []
        children: dict[str, Task] = {}
        child_ids = set(task.child_ids)
        for child in inv.tasks.values():
            if child.id in child_ids or child.parent_id == task.id:
                children[child.target_id or child.target] = child
        self._left_out.update(left_out_of(task))
        rows = []
        planned_ids = set()
        for wave in self.plan.waves:
            for planned in wave.hosts:
                planned_ids.update((planned.host_id, planned.name))
                child = children.get(planned.host_id) or children.get(planned.name)
                rows.append(self._row(str(wave.number), planned.host_id, planned.name, planned.from_version, child, task))
        for key, child in children.items():
            if key not in planned_ids:  # the backend upgrades a host the plan did not name
                rows.append(self._row("?", child.target_id or "", child.target, None, child, task))
        return rows

    def _row(self, wave: str, host_id: str, name: str, from_version: str | None, child: Task | None, task: Task):
        host = self.inventory.hosts.get(host_id)
        now = (host.engine_version or "?") if host else "gone"
        if child is not None:
            status, progress, step = state(child.status), child.progress, child.error or child.message
        elif name in self._left_out:
            status, progress, step = Text("left out", style="yellow"), 0, f"left out: {self._left_out[name]}"
        else:
            status, progress, step = Text("not started" if task.done else "waiting", style="dim"), 0, ""
        return (wave, name, from_version or "?", now, status, progress, step)

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "control":
            task = self.inventory.tasks.get(self.task_id or "")
            if task is None or task.done or not self.app.backend.supports(Capability.TASKS_CONTROL):
                return False
            verb = parameters[0] if parameters else ""
            if verb == "pause":
                return task.status is TaskStatus.RUNNING
            if verb == "resume":
                return task.status is TaskStatus.PAUSED
            return True
        if action == "submit":
            return self.task_id is None
        return True

    def action_control(self, verb: str) -> None:
        if self.task_id is not None:
            self.app.control_task(self.task_id, verb)
