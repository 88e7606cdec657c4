"""Cores a server sizes itself by: the CPU set, and a container's CPU quota (a fake
cgroup filesystem here, laid out as the kernel's v1 and v2 ones are)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.common.cpus import cpu_quota, usable_cpus

CORES = len(os.sched_getaffinity(0))


def _v2(root: Path, levels: dict[str, str], path: str = "/kubepods/pod1/c1") -> Path:
    (root / "cgroup.controllers").write_text("cpu memory\n")
    for level, cpu_max in levels.items():
        folder = root / level.strip("/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cpu.max").write_text(cpu_max + "\n")
    proc = root / "proc-self-cgroup"
    proc.write_text(f"0::{path}\n")
    return proc


def test_no_quota_is_the_cpu_set(tmp_path: Path):
    proc = _v2(tmp_path, {"/": "max 100000", "/kubepods/pod1/c1": "max 100000"})
    assert cpu_quota(tmp_path, proc) is None
    assert usable_cpus(tmp_path, proc) == CORES


@pytest.mark.parametrize("levels, quota", [
    ({"/kubepods/pod1/c1": "50000 100000"}, 0.5),  # docker --cpus 0.5
    ({"/kubepods/pod1": "200000 100000", "/kubepods/pod1/c1": "max 100000"}, 2.0),  # the pod's
    ({"/kubepods": "300000 100000", "/kubepods/pod1/c1": "150000 100000"}, 1.5),  # tightest
])
def test_the_tightest_v2_quota_up_the_tree(tmp_path: Path, levels: dict, quota: float):
    proc = _v2(tmp_path, levels)
    assert cpu_quota(tmp_path, proc) == quota
    assert usable_cpus(tmp_path, proc) == min(CORES, -(-quota // 1))  # rounded up


def test_a_container_whose_mount_is_its_own_cgroup(tmp_path: Path):
    """Without a cgroup namespace the path names the host's cgroup, which the
    container's mount does not show: its root is the container's own."""
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    assert cpu_quota(tmp_path, proc) == 1.0 and usable_cpus(tmp_path, proc) == 1


def test_v1_without_a_quota_and_nothing_to_read(tmp_path: Path):
    (tmp_path / "cpu,cpuacct").mkdir()
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("3:cpu,cpuacct:/\n")
    assert cpu_quota(tmp_path, proc) is None
    assert cpu_quota(tmp_path, tmp_path / "absent") is None  # not Linux: no /proc
    assert usable_cpus(tmp_path, tmp_path / "absent") == CORES
