"""Reusable widgets: fast at scale (only visible lines are rendered)."""

from .log_view import LogView
from .resource_table import Column, ResourceTable
from .task_strip import TaskStrip

__all__ = ["Column", "LogView", "ResourceTable", "TaskStrip"]
