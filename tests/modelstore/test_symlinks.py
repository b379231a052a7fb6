"""Symbolic links in model folders (issue 10, D1): never followed out of the model's folder,
never served, dangling ones skipped with a warning, and a failed import leaves nothing behind."""

import logging
import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.modelstore import layout, services
from apps.modelstore.models import LocalModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(settings) -> Path:
    """A file outside every model folder that must never leave the server."""
    path = Path(settings.MODELYARD_HOME) / "secret_key"
    path.write_text("top secret")
    return path


def test_a_link_out_of_the_folder_is_not_picked_up_by_rescan_models(stored, secret, caplog):
    model = stored("org/model", source="huggingface")
    (Path(model.path) / "leak.txt").symlink_to(secret)
    (Path(model.path) / "gone.txt").symlink_to(Path(model.path) / "nothing-here")

    with caplog.at_level(logging.WARNING, logger="apps.modelstore.layout"):
        call_command("rescan_models")

    model.refresh_from_db()
    assert model.files == ["config.json", "model.safetensors"]
    assert "leak.txt" not in model.manifest
    assert "a link to" in caplog.text and "outside the model's folder" in caplog.text
    assert "skipping dangling link gone.txt" in caplog.text


def test_the_mirror_never_serves_a_file_whose_real_path_is_outside_the_folder(client, stored, secret):
    model = stored("org/model", source="huggingface", files={"config.json": b"{}", "leak.txt": b"harmless"})
    (Path(model.path) / "leak.txt").unlink()
    (Path(model.path) / "leak.txt").symlink_to(secret)  # swapped for a link after the row was written

    response = client.get("/hub/org/model/resolve/main/leak.txt")
    head = client.head("/hub/org/model/resolve/main/leak.txt")

    assert response.status_code == 404
    assert response.json()["error"] == "Entry leak.txt not found in org/model"
    assert response["X-Error-Code"] == "EntryNotFound"
    assert head.status_code == 404
    assert client.get("/hub/org/model/resolve/main/config.json").status_code == 200


def test_links_inside_the_folder_count_and_linked_folders_are_not_entered(tmp_path):
    folder = tmp_path / "model"
    (folder / "blobs").mkdir(parents=True)
    (folder / "blobs" / "abc").write_bytes(b"weights")
    (folder / "model.gguf").symlink_to(folder / "blobs" / "abc")
    (folder / "etc").symlink_to("/etc", target_is_directory=True)
    (folder / "looped").symlink_to(folder, target_is_directory=True)

    assert layout.list_model_files(folder) == ["blobs/abc", "model.gguf"]


def test_import_skips_links_out_of_the_folder_and_dangling_links(store, tmp_path, secret):
    source = tmp_path / "outside"
    (source / "sub").mkdir(parents=True)
    (source / "config.json").write_text("{}")
    (source / "sub" / "weights.gguf").write_bytes(b"GGUF" + b"\0" * 20)
    (source / "weights-link.gguf").symlink_to(source / "sub" / "weights.gguf")
    (source / "etc").symlink_to("/etc", target_is_directory=True)
    (source / "leak.txt").symlink_to(secret)
    (source / "dangling.bin").symlink_to(source / "missing.bin")

    model = services.local_model_import(path=source, source="local", model_id="team/thing")

    folder = Path(model.path)
    assert model.files == ["config.json", "sub/weights.gguf", "weights-link.gguf"]
    stored = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))
    assert stored == ["config.json", "sub", "sub/weights.gguf", "weights-link.gguf"]
    assert not (folder / "weights-link.gguf").is_symlink()  # its content, copied
    assert (folder / "weights-link.gguf").read_bytes() == b"GGUF" + b"\0" * 20


def test_a_failed_import_leaves_nothing_in_the_store(store, tmp_path, monkeypatch):
    source = tmp_path / "outside"
    source.mkdir()
    for name in ("a.json", "b.json", "c.json"):
        (source / name).write_text("{}")
    copies = []

    def copy_until_the_disk_is_full(src: Path, dst: Path) -> None:
        if copies:
            raise OSError(28, "No space left on device")
        copies.append(shutil.copyfile(src, dst))

    monkeypatch.setattr(shutil, "copy2", copy_until_the_disk_is_full)

    with pytest.raises(OSError, match="No space left"):
        services.local_model_import(path=source, source="local", model_id="team/thing")

    assert copies  # it failed halfway, after one file
    assert not (store / "local" / "team").exists()
    assert not LocalModel.objects.exists()
    assert sorted(os.listdir(source)) == ["a.json", "b.json", "c.json"]


def test_deleting_a_model_whose_folder_is_a_link_removes_the_link_not_its_target(client, store, tmp_path):
    elsewhere = tmp_path / "big-disk" / "model"
    elsewhere.mkdir(parents=True)
    (elsewhere / "config.json").write_text("{}")
    link = layout.model_dir("local", "team/linked")
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    services.local_model_record(source="local", model_id="team/linked")

    response = client.delete("/api/v1/models/local/team/linked")

    assert response.status_code == 200
    assert not link.exists() and not link.is_symlink()
    assert (elsewhere / "config.json").exists()
