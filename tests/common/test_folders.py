"""Folders at names others can guess: used only if they are this user's alone."""

from __future__ import annotations

import logging
from pathlib import Path

from servers.common import metrics_folder
from servers.common.folders import private_folder


def test_a_private_folder_is_made_0700_and_anothers_is_refused(tmp_path: Path):
    mine = tmp_path / "mine"
    assert private_folder(mine) and mine.stat().st_mode & 0o777 == 0o700
    link = tmp_path / "link"
    link.symlink_to(mine)  # a link someone made first, to wherever they like
    assert not private_folder(link)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # (past the umask) anyone may write in it
    assert not private_folder(shared)


def test_a_removed_metrics_folder_is_made_again_unless_someone_took_its_name(
        tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="rymi.server")
    folder = str(tmp_path / "rymi-metrics-1-x")
    metrics_folder.keep(folder)  # removed: made again, and said once
    assert Path(folder).is_dir() and caplog.text.count("made again") == 1
    Path(folder).rmdir()
    Path(folder).symlink_to(tmp_path)  # taken by a link before the supervisor looked
    for _ in range(3):
        metrics_folder.keep(folder)
    assert caplog.text.count("not this user's alone") == 1  # said once, not every 0.1 s


def test_a_folder_others_may_write_in_or_anothers_is_refused(tmp_path: Path) -> None:
    """Group-writable is others too (a shared group's member could plant files); a
    folder owned by someone else is theirs however its mode reads."""
    import os

    import pytest

    group = tmp_path / "group"
    group.mkdir()
    group.chmod(0o770)
    assert not private_folder(group)
    if os.getuid() != 0:
        pytest.skip("making a folder another user's needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    assert not private_folder(theirs)


def test_only_the_folders_of_supervisors_that_are_gone_are_cleared(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A second server starting on the host cleared every metrics folder, the running
    server's too: its /metrics went empty. Only a dead supervisor's folder goes."""
    import os
    import subprocess
    import sys
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = tmp_path / f"{metrics_folder.PREFIX}{os.getpid()}-abc"
    gone = tmp_path / f"{metrics_folder.PREFIX}{dead.pid}-abc"
    live.mkdir()
    gone.mkdir()
    metrics_folder.clear_orphans()
    assert live.is_dir() and not gone.exists()
