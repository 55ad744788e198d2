"""The reference run's values: the notebooks compare exactly the quantities the data file holds."""

import ast
import importlib.util
import json
import re

import nbformat
import pytest

from gan_lab import config
from gan_lab.course import reference

NOTEBOOKS = sorted((config.REPO_ROOT / "notebooks").glob("*.ipynb"))
spec = importlib.util.spec_from_file_location("reference_script", config.REPO_ROOT / "scripts" / "reference_values.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def compared_quantities() -> dict[str, set[str]]:
    """{notebook stem: quantities its code passes to compare}, read from the code (literal dict keys)."""
    found: dict[str, set[str]] = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "compare(" not in cell.source:
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "compare":
                    stem, values = node.args[:2]
                    assert stem.value == path.stem, f"{path.name} calls compare with another notebook's name"
                    assert isinstance(values, ast.Dict), f"{path.name}: give compare a literal dict"
                    keys = {k.value for k in values.keys if isinstance(k, ast.Constant)}
                    assert len(keys) == len(values.keys), f"{path.name}: compare's quantities must be literal strings"
                    found.setdefault(path.stem, set()).update(keys)
    return found


def test_the_file_holds_every_compared_quantity_and_nothing_else():
    stored = json.loads(reference.FILE.read_text())
    compared = compared_quantities()
    assert len(compared) >= 9, "most numbered notebooks compare a result with the reference run"
    stale = {nb: sorted(set(v) - compared.get(nb, set())) for nb, v in stored["notebooks"].items()}
    missing = {nb: sorted(q - set(stored["notebooks"].get(nb, {}))) for nb, q in compared.items()}
    assert not any(stale.values()), f"values no notebook compares any more: {stale}; run scripts/reference_values.py"
    assert not any(missing.values()), f"quantities without a reference value: {missing}; run the script for them"
    assert set(stored["runs"]) == set(stored["notebooks"])
    assert "MedMNIST" in stored["measured"]["data"], "the reference run is meant for the real data"


def test_no_markdown_quotes_a_reference_value():
    # the prose points at the comparison the code prints; a number typed next to "reference run" would go stale
    quoted = re.compile(r"reference run[^.\n]{0,40}?\d")
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                assert not quoted.search(cell.source), f"{path.name} quotes a reference value: {cell.source[:200]}"


def test_compare_prints_both_and_records_when_asked(tmp_path, monkeypatch, capsys):
    data = {"measured": {"data": "the MedMNIST files", "machine": "x", "date": "2026-01-01"},
            "notebooks": {"nb": {"FID": 5.0}}, "runs": {"nb": {}}}
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(data))
    monkeypatch.setattr(reference, "FILE", path)
    reference.reference_values.cache_clear()
    monkeypatch.setattr(reference, "reference_values", lambda: data)
    record = tmp_path / "rec.jsonl"
    monkeypatch.setenv("GAN_LAB_RECORD_REFERENCE", str(record))
    monkeypatch.setenv("GAN_LAB_FAST", "0")
    reference.compare("nb", {"FID": 7.25, "new quantity": 1})
    out = capsys.readouterr().out
    assert re.search(r"FID\s+7\.25\s+5\.00", out) and re.search(r"new quantity\s+1\.00\s+—", out)
    assert json.loads(record.read_text()) == {"notebook": "nb", "mode": "full",
                                              "values": {"FID": 7.25, "new quantity": 1.0}}
    monkeypatch.setenv("GAN_LAB_FAST", "1")
    reference.compare("nb", {"FID": 9.0})
    assert "FAST mode" in capsys.readouterr().out


@pytest.mark.parametrize("notebook, values, message", [
    ("", {"a": 1.0}, "notebook must be"), ("nb", {}, "non-empty dict"), ("nb", {"a": "1"}, "every value a number")])
def test_compare_rejects_bad_input(notebook, values, message):
    with pytest.raises(ValueError, match=message):
        reference.compare(notebook, values)


def test_collect_refuses_fast_runs_and_repeated_quantities():
    full = {"notebook": "a", "mode": "full", "values": {"x": 1.0}}
    assert script.collect([full, {**full, "values": {"y": 2.0}}]) == {"a": {"x": 1.0, "y": 2.0}}
    with pytest.raises(ValueError, match="FAST mode"):
        script.collect([{**full, "mode": "fast"}])
    with pytest.raises(ValueError, match="twice"):
        script.collect([full, full])


def test_the_script_knows_the_notebooks_that_compare():
    assert set(script.notebooks_with_compare()) == set(compared_quantities())
