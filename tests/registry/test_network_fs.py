"""A registry is SQLite: on NFS, CIFS and the like its locks cannot be trusted, so it is refused
there (a fake mount table stands in for one), unless the user says otherwise."""

from __future__ import annotations

import pytest

from tests.invoke import run
from uctune.errors import ConfigError
from uctune.registry import ModelRegistry, _paths


@pytest.fixture()
def share(tmp_path, monkeypatch):
    """``tmp_path/share`` mounted over NFS, as the mount table tells it; ``tmp_path`` local."""
    table = tmp_path / "mounts"
    table.write_text(
        "/dev/sda1 / ext4 rw,relatime 0 0\n"
        f"/dev/sdb1 {tmp_path} ext4 rw 0 0\n"
        f"fileserver:/export/models {tmp_path}/share nfs4 rw,vers=4.2,hard 0 0\n"
    )
    monkeypatch.setattr(_paths, "MOUNT_TABLE", table)
    (tmp_path / "share").mkdir()
    return tmp_path / "share"


def test_a_registry_on_nfs_is_refused_and_nothing_is_created(share, monkeypatch):
    monkeypatch.delenv(_paths.ALLOW_NETWORK_FS_VAR, raising=False)
    root = share / "registry"
    with pytest.raises(ConfigError) as refused:
        ModelRegistry(root)
    assert str(refused.value) == (
        f"registry {str(root)!r} is on a network filesystem (nfs4 mounted at {share}), where "
        "SQLite's locks are unreliable; put it on a local or block-storage disk, or set "
        "UCTUNE_REGISTRY_ALLOW_NETWORK_FS=1 to open it anyway"
    )
    assert not root.exists()


def test_the_cli_says_so_in_one_line(share, capsys, monkeypatch):
    monkeypatch.delenv(_paths.ALLOW_NETWORK_FS_VAR, raising=False)
    code, _, err = run(capsys, "registry", "list", "--root", share / "registry")
    assert code == 2 and err.count("\n") == 1 and "nfs4 mounted at" in err


def test_a_local_disk_and_an_explicit_override_are_accepted(share, tmp_path, monkeypatch):
    monkeypatch.delenv(_paths.ALLOW_NETWORK_FS_VAR, raising=False)
    assert ModelRegistry(tmp_path / "local").db_path.is_file()  # ext4, beside the share
    monkeypatch.setenv(_paths.ALLOW_NETWORK_FS_VAR, "1")
    assert ModelRegistry(share / "registry").db_path.is_file()


def test_an_unreadable_mount_table_refuses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(_paths, "MOUNT_TABLE", tmp_path / "no-such-table")
    assert ModelRegistry(tmp_path / "registry").db_path.is_file()
