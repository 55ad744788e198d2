"""benchmarks/candidates.py: every candidate minus the default of its own invocation, from the stored files."""

import json

import pytest


@pytest.fixture(scope="module")
def candidates(load_script):
    return load_script("benchmarks/candidates.py")


def _run(seed, step, fid, accuracy):
    return {"seed": seed, "curve": [{"step": 0, "fid": 300.0, "two_sample_accuracy": 1.0},
                                    {"step": step, "fid": fid, "two_sample_accuracy": accuracy}]}


def _file(directory, suffix, budget, configs):
    path = directory / f"time_to_quality_two_sample_pneumoniamnist_2cores_{suffix}.json"
    path.write_text(json.dumps({"settings": {"budget": budget, "judges": 4}, "configs": {
        name: {"runs": runs} for name, runs in configs.items()}}))


def test_each_candidate_is_paired_with_the_default_of_its_own_file(candidates, tmp_path):
    default = [_run(0, 1000, 2.0, 0.74), _run(1, 1200, 1.5, 0.72)]
    _file(tmp_path, "a", 180.0, {"notebook_02": default,
                                 "notebook_02_x": [_run(1, 600, 1.0, 0.70), _run(0, 500, 2.5, 0.75)],  # other order
                                 "earlier_default": [_run(0, 900, 3.0, 0.80)]})  # a past default: left out
    _file(tmp_path, "b", 180.0, {"notebook_02": [_run(0, 1000, 9.0, 0.90)],
                                 "notebook_02_x": [_run(0, 1000, 8.0, 0.95)]})  # the same name, another invocation
    _file(tmp_path, "c", 290.0, {"notebook_02": default, "notebook_02_y": default})  # another budget: left out
    _file(tmp_path, "d", 180.0, {"notebook_02_z": default})  # no default beside it: left out
    _file(tmp_path, "e", 180.0, {"notebook_02": default, "notebook_02_w": [_run(5, 900, 2.0, 0.7)]})  # no shared seed
    rows = candidates.candidates(tmp_path)
    assert [(r["file"][-6:], r["config"]) for r in rows] == [("a.json", "notebook_02_x"), ("b.json", "notebook_02_x")]
    a, b = rows
    assert a["seeds"] == [1, 0]
    assert a["fid"]["per_seed"] == [-0.5, 0.5] and a["two_sample_accuracy"]["per_seed"] == [-0.02, 0.01]
    assert a["two_sample_accuracy"]["mean"] == pytest.approx(-0.005) and a["steps_ratio"] == 0.5
    assert b["fid"]["mean"] == -1.0 and b["two_sample_accuracy"]["mean"] == pytest.approx(0.05)  # its own default
    text = candidates.table(rows)
    assert text.index("(b)") > text.index("(a)")  # lowest mean accuracy difference first
    candidates.plot(rows, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_the_stored_overview_matches_the_stored_files(candidates, capsys):
    """candidates.json is regenerated from the benchmark files; a file stored without rerunning it fails here."""
    assert candidates.main(["--check"]) == 0, capsys.readouterr().err
    stored = json.loads((candidates.HERE / "candidates.json").read_text())["candidates"]
    assert len(stored) >= 20 and all(row["two_sample_accuracy"]["per_seed"] for row in stored)


def test_check_fails_on_an_overview_that_no_longer_matches(candidates, tmp_path, capsys):
    stale = tmp_path / "candidates.json"
    stale.write_text(json.dumps({"candidates": []}))
    assert candidates.main(["--check", "--out", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_points_beyond_either_edge_are_drawn_there_with_their_own_marker(candidates):
    assert candidates._beyond(candidates.X_MAX + 1, 0.0) == ">"
    assert candidates._beyond(0.0, candidates.Y_MAX + 0.1) == "^"
    assert candidates._beyond(candidates.X_MAX + 1, candidates.Y_MAX + 0.1) == ">"  # right edge first
    assert candidates._beyond(candidates.X_MAX, candidates.Y_MAX) is None  # on the edge is inside


def test_labels_are_laid_out_clear_of_each_other_the_points_the_key_and_the_frame(candidates):
    gap, line = candidates.GAP, candidates.LINE
    anchors = ([(200.0, 170.0, 120.0, 9.0, False)] * 6  # six labels at one point, just above the key
               + [(590.0, 300.0, 80.0, 9.0, True),  # a point at the right edge
                  (300.0, 330.0, 120.0, 9.0, False), (340.0, 328.0, 30.0, 9.0, False),  # a label beside would cover
                  (100.0, 398.0, 50.0, 9.0, False)])  # a label beside would cross the frame's top
    key = (0.0, 0.0, 400.0, 150.0)
    frame = (0.0, 0.0, 600.0, 400.0)
    offsets = candidates._layout(anchors, [key], frame)

    def box(anchor, offset):
        (x, y, w, h, _), (dx, dy, left) = anchor, offset
        return (x + dx - w if left else x + dx, y + dy - h / 2, x + dx if left else x + dx + w, y + dy + h / 2)

    def meet(a, b):
        return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])

    boxes = [box(a, o) for a, o in zip(anchors, offsets)]
    for i, a in enumerate(boxes):
        assert frame[0] <= a[0] and a[2] <= frame[2] and frame[1] <= a[1] and a[3] <= frame[3]
        assert not meet(a, key)
        assert not any(meet(a, b) for b in boxes[:i])
        assert not any(meet(a, (x - 1, y - 1, x + 1, y + 1)) for x, y, *_ in anchors
                       if (x, y) != anchors[i][:2])  # no label on another label's point
    assert len({offset for offset in offsets[:6]}) == 6  # the six spread over six places
    assert all(dy % line == 0 for _, dy, _ in offsets)
    assert offsets[6] == (-gap, 0, True)  # at the right edge: to the left of its point
    assert offsets[7] != (gap, 0, False)  # moved off the point it would have covered
    assert offsets[9][1] < 0  # moved down into the frame
    assert candidates._layout([(100.0, 300.0, 50.0, 9.0, False)], [key], frame) == [(gap, 0, False)]  # room beside
