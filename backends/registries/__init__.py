"""Container registries (issue 13): the registries a user configured, and what they hold.

- ``models``: a configured registry (``RegistryEntry``, read from the config's
  ``[registries.NAME]`` tables and checked there) and an image tag as listed
  (``ImageTag``). Light: no network library, so the config loader may import it.
- ``credentials``: where a registry's password comes from (never an option or a config value).
- ``client``: the registry HTTP API v2 over httpx (Basic and Bearer challenges, ``Link``
  paging, manifests), every request bounded.
- ``listing``: every repository and tag of a registry with digest, size and platforms.

This package is no console backend (it has no inventory or change stream): the CLI uses it
directly, and it imports nothing from ``console``.
"""
