"""The footer: the keys that apply now, from the screen's active bindings, on one line.

Textual's Footer mounts a widget per key and recomposes them all whenever the bindings
change (each focus move, each pane switch). This bar is one widget that redraws its one
line, and only when the keys shown change. A click on a key presses it.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

from widgets.terminal_text import visible


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
        & > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
        & > .key-bar--disabled { color: $text-disabled; }
    }
    """
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--disabled"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # (key, shown as, description, enabled, the app's own: quit, help, command mode)
        self._keys: tuple[tuple[str, str, str, bool, bool], ...] = ()
        self._palette: tuple[str, str, str, bool] | None = None
        self._spans: list[tuple[int, int, str]] = []  # (start, end, key) of each key on the line

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        app = self.app
        keys, seen, palette = [], set(), None
        for node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.key == app.COMMAND_PALETTE_BINDING:
                palette = self._entry(binding, enabled)
            elif binding.show and binding.action not in seen:
                seen.add(binding.action)  # one key per action, as Textual's Footer shows
                keys.append((*self._entry(binding, enabled), node is app))
        if not app.ENABLE_COMMAND_PALETTE:
            palette = None
        if (tuple(keys), palette) != (self._keys, self._palette):
            self._keys, self._palette = tuple(keys), palette
            self.refresh()

    def _entry(self, binding: Binding, enabled: bool) -> tuple[str, str, str, bool]:
        # The keys may come from the user's config file ([keymap]): shown, never obeyed.
        return (binding.key, visible(self.app.get_key_display(binding)), visible(binding.description), enabled)

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        disabled = self.get_component_rich_style("key-bar--disabled", partial=True)
        line = Text(no_wrap=True, overflow="crop")
        spans = []
        for key, shown, description, enabled in self._fitting():
            start = len(line)
            line.append(f" {shown} ", style=key_style if enabled else disabled)
            line.append(f"{description} ", style=None if enabled else disabled)
            spans.append((start, len(line), key))
        if self._palette is not None:
            key, shown, description, enabled = self._palette
            tail = Text.assemble(("▏", disabled), (f"{shown}", key_style), f"{description} ")
            gap = self.size.width - len(line) - len(tail)
            if gap >= 1:
                line.append(" " * gap)
                spans.append((len(line), len(line) + len(tail), key))
                line.append_text(tail)
        self._spans = spans
        return line

    def _fitting(self) -> list[tuple[str, str, str, bool]]:
        """The keys shown: with more than there is room for, the app's own (quit, help, command
        mode) and the palette's stay, and the screen's fill what is left in their order; the
        ones left out are in the help (`?`). Before the first layout (no width yet): all."""
        width = self.size.width
        cost = [len(shown) + len(description) + 3 for _, shown, description, _, _ in self._keys]
        if not width:
            return [k[:4] for k in self._keys]
        palette = self._palette
        budget = width - (len(palette[1]) + len(palette[2]) + 3 if palette is not None else 0)
        budget -= sum(c for k, c in zip(self._keys, cost) if k[4])
        shown: list[tuple[str, str, str, bool]] = []
        for k, c in zip(self._keys, cost):
            if not k[4]:
                if c > budget:
                    budget = -1  # in order: no later, shorter key jumps ahead of one left out
                    continue
                budget -= c
            shown.append(k[:4])
        return shown

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
