"""A one-line Input whose keystrokes do not lay the whole screen out.

Textual's Input sets its ``virtual_size`` on every change of value, and ``virtual_size`` is a
reactive that asks for a layout of the screen: on a dashboard of a dozen widgets and four
tables that is 20-60 ms per key, more than the filter the key starts. For an input of fixed
size only its scroll range changes: that is updated here without the layout.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import Input


class PromptInput(Input):
    def _watch_value(self, value: str) -> None:
        size = Size(self.content_width, 1)
        if size != self.virtual_size and not self.styles.auto_dimensions:
            self.set_reactive(Input.virtual_size, size)
            self._scroll_update(size)
            self.refresh()
        super()._watch_value(value)  # the same size now: no layout; the rest as Input does it
