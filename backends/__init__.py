"""Backends: the contract (``contract``), the domain (``models``), typed errors (``errors``),
and the implementations: ``simulator``, ``docker``, ``prism``."""
