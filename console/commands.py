"""The command palette (ctrl+p): the actions that apply now (from ``console.actions``), the
`:` commands, and every host, container and volume by name (opening its details)."""

from __future__ import annotations

from functools import partial

from textual.await_complete import AwaitComplete
from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.widgets import Button, Input, OptionList
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape

from backends.contract import Capability
from widgets.terminal_text import visible

COMMANDS = {
    "hosts": "Show the Hosts pane",
    "containers": "Show the Containers pane",
    "volumes": "Show the Volumes pane",
    "services": "Show the Services pane (a swarm)",
    "secrets": "Show the Secrets pane (a swarm)",
    "configs": "List the configs and who uses them (a swarm)",
    "projects": "Projects and their quota use, drawn as bars",
    "nodes": "The cluster's nodes and the cores and memory their hosts take",
    "networks": "The cluster's networks and the hosts on them",
    "images": "The container images on the host in focus: pull, remove, prune",
    "tasks": "List every task",
    "registries": "Browse container registries: repositories and tags",
    "events": "List recent events",
    "quit": "Quit the console",
}
ITEM_HITS = 200  # at most this many items are scored per search, to stay quick at scale


class ConsolePalette(CommandPalette):
    """Textual's palette, closed at most once.

    A fast Enter Enter (or Escape then Enter) queues a second choice behind the first: Textual
    would dismiss again, popping whatever screen is on top by then, and run the command again.
    A choice that reaches a palette no longer on top (closed, or covered) is dropped, and the
    palette closes through the app's guarded path.
    """

    _CHOICES = (Input.Submitted, Button.Pressed, OptionList.OptionSelected)

    async def _on_message(self, message: Message) -> None:
        if isinstance(message, self._CHOICES) and self.app.screen is not self:
            message.stop()
            return
        await super()._on_message(message)

    def dismiss(self, result: object = None) -> AwaitComplete:
        self.app.close_screen(self, result)
        return AwaitComplete.nothing()


class ConsoleCommands(Provider):
    def _commands(self):
        app = self.app
        for title, callback, help_text in self._actions():
            yield title, callback, help_text
        from .screens.dashboard import DashboardScreen

        from .screens.cluster import NEEDS

        # The views offered only where the backend has their kind (as :configs).
        needs = {**NEEDS, "images": Capability.HOST_IMAGES}
        dashboard = next((s for s in app.screen_stack if isinstance(s, DashboardScreen)), None)
        for word, help_text in COMMANDS.items():
            if word in ("services", "secrets") and (dashboard is None or word not in dashboard.kinds):
                continue  # a swarm's panes, offered where the backend has them
            if word == "configs" and not app.backend.supports(Capability.CONFIGS):
                continue
            if word in needs and not app.backend.supports(needs[word]):
                continue
            yield f":{word}", partial(app.run_command, word), help_text

    def _actions(self):
        """Every action with keys that applies on the dashboard now, with its keys shown."""
        from . import actions
        from .screens.dashboard import DashboardScreen

        dashboard = next((s for s in self.app.screen_stack if isinstance(s, DashboardScreen)), None)
        if dashboard is None:
            return
        for record in actions.ACTIONS:
            if record.keys and actions.allowed(record, self.app.backend, dashboard.current):
                keys = self.app.keymap_overrides.get(record.id, record.keys)
                # The palette reads help as markup: the keys (from the user's [keymap]) are escaped,
                # else "[d]" would be taken for a tag and vanish.
                help_text = escape(visible(f"{record.help} [{keys}]"))
                yield f"{record.title} ({record.group.lower()})", partial(dashboard.action_act, record.id), help_text
        # Your own commands ([[commands]] in the config) that apply on the pane in focus.
        for index, command in enumerate(getattr(self.app, "user_commands", None) or []):
            if command.pane == dashboard.current:
                help_text = escape(visible(f"{command.describe()} [{command.key}]"))
                yield f"{command.name} (your command)", partial(dashboard.action_user_command, index), help_text

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
        inventory = self.app.store.inventory
        scored = 0
        for kind in ("hosts", "containers", "volumes"):
            for item in inventory.of(kind).values():
                title = f"{kind[:-1]} {visible(item.name)}"
                score = matcher.match(title)
                if score <= 0:
                    continue
                yield Hit(score, _highlight(matcher, title), partial(self.app.open_details, kind, item.id), help=f"open {kind[:-1]} details")
                scored += 1
                if scored >= ITEM_HITS:
                    return


def _highlight(matcher: Matcher, title: str) -> Content:
    """``Matcher.highlight`` reads its candidate as markup; an item's name is data (a name
    like "[b]x" must show as typed): plain Content, the matched letters styled the same way."""
    content = Content(title)
    score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    if score:
        for offset in offsets:
            if not title[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
