"""The forms' checks: each says what is wrong, before anything is sent."""

from __future__ import annotations

from backends.models import Project, Quota
from backends.validation import mount_path_problem, size_problem, whole_number_problem
from console.screens.forms import host_name_problem, quota_left


def test_host_names_are_dns_labels_and_the_reason_names_the_bad_characters():
    problem = host_name_problem("Web_01!", set())
    assert problem is not None and "'W'" in problem and "'_'" in problem and "'!'" in problem and "web-01" in problem
    assert "start and end" in host_name_problem("-web", set())
    assert "63" in host_name_problem("a" * 64, set())
    assert "already exists" in host_name_problem("web-01", {"web-01"})
    assert host_name_problem("web-01", {"web-02"}) is None


def test_numbers_within_the_quota_left():
    project = Project(id="p", name="dev", quota=Quota(vcpus=10, memory_mib=8192, vms=3), used=Quota(vcpus=8, memory_mib=4096, vms=3))
    left = quota_left(project)
    assert left == {"vcpus": 2, "memory_gib": 4.0, "vms": 0, "storage_gib": None}
    assert "more than 2" in whole_number_problem("3", "cores", 1, 2, "the quota left in dev")
    assert whole_number_problem("2", "cores", 1, 2, "") is None
    assert "whole number" in whole_number_problem("2.5", "cores", 1, None, "")
    assert "more than 0" in size_problem("0", "memory", None, "")
    assert size_problem("4", "memory", 4.0, "") is None


def test_mount_paths_are_absolute_plain_directories():
    assert "absolute" in mount_path_problem("data")
    assert "plain directory" in mount_path_problem("/data/../etc")
    assert mount_path_problem("/srv/data") is None
