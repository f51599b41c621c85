"""The simulator served as Prism Central (``ntnx-console sim serve``) and the HTTPS/login
helpers that fake Prism servers share: a test double for the Prism client, kept beside it so
``backends.prism`` depends on nothing simulated. This package reads the client's constants
(``backends.prism.client.SIMULATOR_HEADER``, ``backends.prism.parse``'s categories) and drives
``backends.simulator``; nothing under ``backends.prism`` imports it back.

- ``server``: the Starlette app and ``main`` that ``sim serve`` runs;
- ``payloads``: the simulator's models written as Prism's v3/v4 entities;
- ``serving``: the self-signed certificate, Prism's login middleware and error envelopes."""
