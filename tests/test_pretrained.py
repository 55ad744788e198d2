"""The pretrained registry: names, the pretrain command, and agreement with notebook 02's settings."""

import json

import nbformat
import pytest
import torch

import gan_lab
from gan_lab import cli, config
from gan_lab.course import pretrained
from gan_lab.data.base import ImageData
from gan_lab.train.gan import GANConfig

NOTEBOOK = config.REPO_ROOT / "notebooks" / "02_vanilla_gan.ipynb"


def test_notebook_02_entries_are_registered():
    assert {"02_mlp_gan", "02_dcgan"} <= set(pretrained.PRETRAINED)
    with pytest.raises(ValueError, match="registered twice"):
        pretrained.register("02_dcgan", "again")(lambda: None)


@pytest.mark.parametrize("fast", ["0", "1"])
def test_notebook_training_variables_match_the_registry(monkeypatch, fast):
    monkeypatch.setenv("GAN_LAB_FAST", fast)
    cell = next(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells
                if c.cell_type == "code" and "DCGAN_CONFIG =" in c.source)
    namespace = {"gan_lab": gan_lab, "GANConfig": GANConfig}
    exec(cell, namespace)  # the "Training variables" cell only assigns numbers and configs
    configs = pretrained.notebook_02_configs()
    assert namespace["MLP_CONFIG"] == configs["mlp"]
    assert namespace["DCGAN_CONFIG"] == configs["dcgan"]


def test_pretrain_only_trains_the_named_entry_into_the_fast_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CHECKPOINT_DIR", tmp_path)
    monkeypatch.setattr(pretrained, "cache_dir", lambda name: tmp_path / "fast" / name)
    tiny = {"mlp": GANConfig(arch="mlp", width=2, z_dim=4, batch_size=4, num_steps=2)}
    monkeypatch.setattr(pretrained, "notebook_02_configs", lambda: tiny)
    images = torch.rand(16, 1, 28, 28) * 2 - 1
    monkeypatch.setattr(pretrained, "_data", lambda name: ImageData(images, torch.zeros(16).long(), ["x"], name,
                                                                   "real: test"))
    monkeypatch.delenv("GAN_LAB_FAST", raising=False)
    assert cli.main(["pretrain", "--fast", "--only", "02_mlp_gan"]) == 0
    stored = json.loads((tmp_path / "fast" / "02_mlp_gan" / "checkpoint.json").read_text())
    assert stored["config"]["gan"]["num_steps"] == 2 and stored["config"]["data"] == "pneumoniamnist"
    assert not (tmp_path / "fast" / "02_dcgan").exists()
    assert cli.main(["pretrain", "--fast", "--only", "02_mlp_gan"]) == 0  # up to date: loads, no training


def test_every_notebook_that_caches_a_network_is_covered_by_pretrain():
    for path in sorted((config.REPO_ROOT / "notebooks").glob("*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        if "cache_dir(" not in source:
            continue
        prefix = path.stem.split("_")[0]
        assert path.stem in pretrained.PRETRAINED or any(n.startswith(prefix + "_") for n in pretrained.PRETRAINED), \
            f"{path.name} caches checkpoints that `pretrain` does not train"


def test_run_notebook_executes_in_the_notebooks_folder_with_the_callers_environment(tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, pathlib\npathlib.Path('ran.txt').write_text(os.environ['GAN_LAB_FAST'])")])
    nbformat.write(notebook, tmp_path / "tiny.ipynb")
    monkeypatch.setenv("GAN_LAB_FAST", "1")
    pretrained.run_notebook(tmp_path / "tiny.ipynb", timeout=120)
    assert (tmp_path / "ran.txt").read_text() == "1"


def test_run_notebook_stops_on_a_failing_cell(tmp_path):
    from nbclient.exceptions import CellExecutionError

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), tmp_path / "bad.ipynb")
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        pretrained.run_notebook(tmp_path / "bad.ipynb", timeout=120)


def test_explore_loads_exactly_the_registered_checkpoints_of_02_and_03():
    import re

    path = config.REPO_ROOT / "notebooks" / "explore.ipynb"
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    names = re.findall(r'PRETRAINED\["([^"]+)"\]', source)
    assert names == ["02_dcgan", "03_cgan_pneumoniamnist"]
    assert all(name in pretrained.PRETRAINED for name in names)
    assert "cache_dir(" not in source, "explore must not keep a cache of its own (it would train mid-lecture)"
    assert "explore" not in pretrained.RUN_WHOLE
