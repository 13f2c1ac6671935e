"""cnn-explorer unit: the card, the PNGs beside it, --json; every bad input exits 2 with
one line before any work starts."""

import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from explorer.cli import main


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_card_for_one_channel(capsys, tmp_path):
    card = tmp_path / "card.png"
    code, out, _ = run(capsys, "unit", "-m", "tinyvgg-shapes", "--layer", "features.relu4",
                       "--channel", "5", "--steps", "48", "--gallery", "shapes:120",
                       "--out", str(card), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["layer"] == "features.relu4" and data["layer_shape"] == [32, 32, 32]
    assert data["gallery_size"] == 120 and data["picture"] == "shape-crop"
    (entry,) = data["channels"]
    assert entry["channel"] == 5
    vis = PILImage.open(entry["visualisation"])
    assert vis.size == (64, 64)  # the network's input size
    assert np.isfinite(entry["activation"]) and np.isfinite(entry["activation_on_picture"])
    assert entry["activation"] > entry["activation_on_picture"]
    # like for like with a top patch (ranked by one unit): the visualisation's strongest
    # unit, checked independently on the saved picture (8-bit, so within a few percent)
    assert entry["activation_peak"] >= entry["activation"]
    from explorer.nets.registry import load_network
    from explorer.units.common import LayerProbe, normalise

    net = load_network("tinyvgg-shapes")
    x = torch.from_numpy(np.asarray(vis, np.float32).transpose(2, 0, 1)[None] / 255)
    with torch.no_grad():
        act = LayerProbe(net, "features.relu4")(normalise(net, x))[0, 5]
    assert float(act.max()) == pytest.approx(entry["activation_peak"], rel=0.1)
    assert float(act.mean()) == pytest.approx(entry["activation"], rel=0.1)
    patches = entry["top_patches"]
    assert len(patches) == 9
    assert [p["activation"] for p in patches] == sorted(
        (p["activation"] for p in patches), reverse=True)
    for p in patches:
        x1, y1, x2, y2 = p["box"]
        assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64 and "shapes crop" in p["source"]
    assert set(entry["backward_views"]) == {"gradient", "guided", "deconvnet", "occlusion",
                                            "integrated"}
    for path in entry["backward_views"].values():
        assert PILImage.open(path).size == (64, 64)
    # the views follow channel 5's strongest unit in relu4's 32x32 map
    y, x = entry["backward_unit"]
    assert 0 <= y < 32 and 0 <= x < 32
    w, h = PILImage.open(card).size
    assert w > 600 and h > 128
    # a second run finds both long jobs in the cache
    code, out, _ = run(capsys, "unit", "-m", "tinyvgg-shapes", "--layer", "features.relu4",
                       "--channel", "5", "--steps", "48", "--gallery", "shapes:120",
                       "--out", str(card), "--json", "--views", "guided")
    again = json.loads(out)
    assert again["cached"] == {"visualisation": True, "top_patches": True}
    assert list(again["channels"][0]["backward_views"]) == ["guided"]
    assert again["channels"][0]["top_patches"] == patches


def test_every_channel_of_a_grey_network(capsys, tmp_path):
    card = tmp_path / "lenet.png"
    code, out, err = run(capsys, "unit", "-m", "lenet5-digits", "--layer", "conv1",
                         "--steps", "16", "--views", "gradient,occlusion",
                         "--out", str(card))
    assert code == 0 and "conv1: 6 channel(s)" in out
    names = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png")
    assert len(names) == 1 + 6 * 3  # card, and per channel: visualisation + 2 views
    assert PILImage.open(tmp_path / "lenet_ch0_visualisation.png").size == (32, 32)


@pytest.fixture
def places(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dir.png").mkdir()
    return tmp_path


BAD = [
    (["--layer", "features.nope"], "no layer"),
    (["--layer", "features.relu4", "--channel", "32"], "out of range"),
    (["--layer", "features.relu4", "--channel", "-1"], "count from 0"),
    (["--layer", "features.relu4", "--channel", "two"], "invalid int"),
    (["--layer", "features.relu4", "--steps", "0"], "at least 1"),
    (["--layer", "features.relu4", "--steps", "-5"], "at least 1"),
    (["--layer", "features.relu4", "--steps", "100001"], "more than"),
    (["--layer", "features.relu4", "--out", "{d}/dir.png"], "is a folder"),
    (["--layer", "features.relu4", "--out", "{d}"], "is a folder"),
    (["--layer", "features.relu4", "--out", "{d}/missing/card.png"], "does not exist"),
    (["--layer", "features.relu4", "--out", "{d}/card.jpg"], ".png"),
    (["--layer", "features.relu4", "--gallery", "{d}/empty"], "holds no images"),
    (["--layer", "features.relu4", "--gallery", "{d}/file.txt"], "not a folder"),
    (["--layer", "features.relu4", "--gallery", "{d}/nowhere"], "no such folder"),
    (["--layer", "features.relu4", "--gallery", "shapes:0"], "shapes:N"),
    (["--layer", "features.relu4", "--views", "gradient,xray"], "unknown xray"),
    (["--layer", "features.relu4", "--engine", "spark"], "invalid choice"),
    (["--layer", "features.relu4", "--image", "sample:nothing"], "unknown sample"),
    (["--layer", "features.relu4", "-m", "nonet"], "unknown network"),
]


@pytest.mark.parametrize("extra, message", BAD)
def test_bad_input_exits_2_with_one_line_before_work(capsys, places, monkeypatch, extra,
                                                     message):
    import explorer.units.featvis as featvis
    import explorer.units.toppatches as toppatches

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the inputs were checked")

    monkeypatch.setattr(featvis, "visualise", no_work)
    monkeypatch.setattr(toppatches, "top_patches", no_work)
    argv = ["unit"]
    if "--out" not in extra:  # given twice, --out is refused for that (cli.main)
        argv += ["--out", str(places / "card.png")]
    argv += [a.replace("{d}", str(places)) for a in extra]
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (places / "card.png").exists()


def test_ray_engine_without_ray_is_one_line(capsys, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))
    code, _, err = run(capsys, "unit", "--layer", "features.relu4", "--engine", "ray",
                       "--out", str(tmp_path / "c.png"))
    assert code == 2 and "needs Ray" in err
