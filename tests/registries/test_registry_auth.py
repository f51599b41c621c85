"""Which configured registry an image reference comes from, and its credentials: by the
URL's host[:port], the context, the host's project; anonymous registries send nothing; the
password never shows in a repr."""

from __future__ import annotations

import pytest

from backends.errors import AuthenticationFailed, InvalidInput
from backends.registries.models import RegistryEntry
from console.registry_auth import auth_for_entry, find_registry, registry_of

ENTRIES = [
    RegistryEntry("lab", "https://registry.example.local:5000", user="ci"),
    RegistryEntry("apps", "https://registry.example.local:5000", user="apps-ci", project="apps"),
    RegistryEntry("other", "https://other.example.local", user="x", context="prod"),
    RegistryEntry("anon", "https://mirror.example.local:443"),
    RegistryEntry("hub", "https://docker.io", user="me"),
]


@pytest.mark.parametrize(
    "ref, registry",
    [
        ("registry.example.local:5000/app:1", "registry.example.local:5000"),
        ("localhost/app", "localhost"),
        ("library/nginx:1.27", None),
        ("nginx", None),
        ("Mirror.Example.Local/x@sha256:" + "0" * 64, "mirror.example.local"),
    ],
)
def test_the_registry_part_of_a_reference(ref, registry):
    assert registry_of(ref) == registry


def test_found_by_host_and_port_then_project_then_context():
    assert find_registry("registry.example.local:5000/app:1", ENTRIES).name == "lab"
    assert find_registry("registry.example.local:5000/app:1", ENTRIES, project="apps").name == "apps"
    assert find_registry("registry.example.local:5000/app:1", ENTRIES, project="web").name == "lab"
    assert find_registry("registry.example.local/app:1", ENTRIES) is None  # another port
    assert find_registry("other.example.local/app", ENTRIES) is None  # another context's
    assert find_registry("other.example.local/app", ENTRIES, context="prod").name == "other"
    assert find_registry("mirror.example.local/app", ENTRIES).name == "anon"  # :443 is the default
    assert find_registry("nginx:1.27", ENTRIES).name == "hub"


def test_two_registries_for_one_host_and_no_project_is_one_line():
    twins = [RegistryEntry("a", "https://r.example.local"), RegistryEntry("b", "https://r.example.local")]
    with pytest.raises(InvalidInput, match=r"registries a, b all serve r.example.local"):
        find_registry("r.example.local/app", twins)


def test_credentials_of_an_entry():
    auth = auth_for_entry(ENTRIES[0], password=lambda e: "s3cret-pw")
    assert (auth.server, auth.username, auth.password) == ("registry.example.local:5000", "ci", "s3cret-pw")
    assert "s3cret-pw" not in repr(auth)
    assert auth_for_entry(ENTRIES[3], password=lambda e: pytest.fail("an anonymous registry asks for nothing")) is None
    assert auth_for_entry(ENTRIES[4], password=lambda e: "pw").server == "https://index.docker.io/v1/"


def test_no_password_anywhere_is_authentication_failed(monkeypatch):
    from console.registry_auth import no_prompt_password

    monkeypatch.delenv("NTNX_REGISTRY_PASSWORD", raising=False)
    monkeypatch.setattr("backends.registries.credentials._from_keyring", lambda entry: None)
    with pytest.raises(AuthenticationFailed, match="NTNX_REGISTRY_PASSWORD"):
        auth_for_entry(ENTRIES[0], password=no_prompt_password)
    monkeypatch.setenv("NTNX_REGISTRY_PASSWORD", "from-env")
    assert auth_for_entry(ENTRIES[0], password=no_prompt_password).password == "from-env"
