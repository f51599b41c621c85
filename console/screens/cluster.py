"""`:projects`, `:nodes` and `:networks`: the cluster's projects with their quota use, its
nodes with the capacity the hosts placed on them take, and its networks with the hosts on
them. Each is a live list (``ListScreen``) whose rows are worked out from the inventory by
its presenter (``screen_rows``), so a host created or moved shows in its project's and
node's bars at once."""

from __future__ import annotations

from types import ModuleType

from backends.contract import Capability

from ..presenters import networks, nodes, projects
from .lists import ListScreen


class ClusterScreen(ListScreen):
    PRESENTER: ModuleType  # with columns() and screen_rows(inventory)
    TITLE = ""
    SORT = "name"
    SORT_REVERSE = False
    BINDINGS = [*ListScreen.BINDINGS, ListScreen.SORT_BINDING]

    def columns(self):
        return self.PRESENTER.columns()

    def rows(self):
        return self.PRESENTER.screen_rows(self.app.store.inventory)

    def title_text(self) -> str:
        return self.TITLE


class ProjectsScreen(ClusterScreen):
    KIND, PRESENTER, DEPENDS = "projects", projects, ("hosts", "containers")
    TITLE = "Projects: quota use (yellow from 80%, red at the quota)"


class NodesScreen(ClusterScreen):
    KIND, PRESENTER, DEPENDS = "nodes", nodes, ("hosts",)
    TITLE = "Nodes: cores and memory given to the hosts placed on each"


class NetworksScreen(ClusterScreen):
    KIND, PRESENTER, DEPENDS = "networks", networks, ("hosts",)
    TITLE = "Networks and the hosts on them"


# The command -> the screen, and the capability a backend needs to have the kind at all.
SCREENS = {"projects": ProjectsScreen, "nodes": NodesScreen, "networks": NetworksScreen}
NEEDS = {"projects": Capability.PROJECTS, "nodes": Capability.NODES, "networks": Capability.NETWORKS}
