"""Settings that choose and configure a backend, merged from the CLI and a config context.

Each backend declares its own settings class in its ``about`` module (``backends.registry``):
its fields are the backend's config keys, and a field made with ``option(...)`` is also a
command-line option. ``Settings`` holds the common choices and one section per backend,
reached as ``settings.docker`` (made with the class's defaults on first use).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Callable


def option(
    default: Any = None,
    *,
    flag: str,
    help: str,
    metavar: str | None = None,
    parse: Callable[[str], Any] | None = None,
    negate: bool = False,
    repeat: bool = False,
) -> Any:
    """A settings field that is also a command-line option.

    ``parse`` turns the option's text into the value (and raises ``ValueError`` or
    ``argparse.ArgumentTypeError`` with the reason); a bool field is a switch that sets True,
    or False with ``negate`` (``--no-activity``); ``repeat`` collects every occurrence."""
    meta = {"flag": flag, "help": help, "metavar": metavar, "parse": parse, "negate": negate, "repeat": repeat}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"option": meta})
    return field(default=default, metadata={"option": meta})


def field_type(f: Any) -> str:
    """A settings field's type as text without ``| None``: 'bool', 'int', 'float', 'str',
    'list[str]' (annotations are text under ``from __future__ import annotations``)."""
    text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return text.replace(" | None", "")


class Settings:
    """The backend to use, the choices common to every backend, and each backend's section."""

    __slots__ = ("backend", "context", "read_only", "insecure_transport", "_sections")

    def __init__(
        self,
        backend: str = "simulator",
        context: str | None = None,
        read_only: bool = False,
        insecure_transport: bool = False,
        **sections: Any,
    ) -> None:
        self.backend = backend  # a name in backends.registry
        self.context = context  # the config context's name, shown in the header
        self.read_only = read_only
        # Plain http:// to Prism or a registry, tcp:// without TLS to an engine: refused unless
        # the user says so (--insecure-transport), and then shown on every command and in the header.
        self.insecure_transport = insecure_transport
        self._sections: dict[str, Any] = dict(sections)

    def section(self, name: str) -> Any:
        """The settings of backend ``name``, with its defaults when none were given."""
        if name not in self._sections:
            from .registry import info

            self._sections[name] = info(name).settings()
        return self._sections[name]

    @property
    def chosen(self) -> Any:
        """The chosen backend's section."""
        return self.section(self.backend)

    def __getattr__(self, name: str) -> Any:
        # Only for names that are not attributes: ``settings.docker`` is the docker section.
        if name.startswith("_"):
            raise AttributeError(name)
        from .registry import names

        if name in names():
            return self.section(name)
        raise AttributeError(f"Settings has no {name!r} (backends: {', '.join(names())})")

    def _key(self) -> tuple:
        return (self.backend, self.context, self.read_only, self.insecure_transport, self._sections)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaces

    def __repr__(self) -> str:
        return f"Settings(backend={self.backend!r}, context={self.context!r}, read_only={self.read_only}, sections={self._sections!r})"
