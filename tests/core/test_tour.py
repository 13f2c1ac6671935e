"""The lecture tour's steps (explorer.tour) and `cnn-explorer tour`: the list, that every
step names a section and page that exist with a preset they understand, that the numbers
in the captions are the ones the pages compute, and bad inputs before any work."""

from __future__ import annotations

import json
import re

import pytest

from explorer.cli import main
from explorer.commands.foundation import LAB_PAGES, SECTION_KEYS
from explorer.errors import UserError
from explorer.tour import steps as tour
from explorer.tour.steps import PRESET_KEYS, STEPS, TABS

#: the issue's list of the lecture's sections, in its order: each must have a step, in
#: this order (several steps may answer one section)
LECTURE_ORDER = ["fc-image", "convolution", "channels", "padding", "parameters",
                 "hierarchy", "equivariance", "strides", "pooling", "cnn-softmax", "lenet",
                 "alexnet", "vgg", "inception", "resnet", "sliding-window", "rcnn",
                 "fast-rcnn", "fcn", "transposed-conv", "upsample-conv",
                 "upsampling", "receptive-fields",
                 "dilated", "unet", "augmentation", "transfer"]


def run(capsys, *argv):
    code = main(["tour", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_is_every_step_in_lecture_order(capsys):
    code, out, err = run(capsys, "--list", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [s.id for s in STEPS]
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    assert [i for i in ids if i in LECTURE_ORDER] == LECTURE_ORDER
    for number, row in enumerate(rows, 1):
        assert row["number"] == number
        assert set(row) >= {"id", "title", "section", "page", "caption", "preset"}
    # the human list names every step with its caption
    code, out, _ = run(capsys)
    assert code == 0 and out.count("\n") >= 2 * len(STEPS) - 1
    assert "617 614 / 614 625" in out and "524,288" in out


def test_steps_subset_and_numbers(capsys):
    code, out, _ = run(capsys, "--json", "--steps", "pooling, 1,pooling")
    assert code == 0
    assert [r["id"] for r in json.loads(out)] == ["fc-image", "pooling"]
    assert tour.step_index("STRIDES") == LECTURE_ORDER.index("strides")
    assert tour.file_name(8, STEPS[8]) == "09_pooling.png"


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.id)
def test_every_step_names_a_real_section_page_and_preset(step):
    assert step.section in SECTION_KEYS
    if step.section == "lab":
        assert step.page in LAB_PAGES
    else:
        assert step.page is None
    target = (step.section, step.page)
    assert set(step.preset) <= PRESET_KEYS[target], set(step.preset) - PRESET_KEYS[target]
    if "tab" in step.preset:
        assert step.preset["tab"] in TABS[target]
    # one caption line a class can read from the back, ending as a sentence
    assert "\n" not in step.caption and len(step.caption) <= 120
    assert step.caption.endswith(".") and step.title


def test_presets_name_things_that_exist():
    from explorer.app.networks import list_models
    from explorer.app.pictures import SAMPLE_NAMES
    from explorer.lab import conv, params, pool, rf
    from explorer.nets import shipped

    models = {e.name for e in list_models()}
    for step in STEPS:
        p = step.preset
        if step.section == "explore":
            assert p["model"] in models and p["image"] in SAMPLE_NAMES
        if step.page == "conv":
            assert p["kernel"] in conv.kernel_names() and p["padding"] in conv.PADDINGS
            assert p["operation"] in ("convolution", "transposed", "upsample")
        if step.page == "pool":
            assert p["mode"] in pool.MODES
        if step.page == "rf":
            assert p["model"] in rf.MODEL_NAMES
        if step.page == "params" and "config" in p:
            assert p["config"] in params.VGG_CONFIGS
        if step.section == "segmentation":
            assert set(p.get("networks", [])) <= set(shipped.load_all())


def test_captions_say_what_the_pages_compute():
    """The lecture's numbers in the captions are the numbers the pages show."""
    from explorer.lab import conv, params, pool
    from explorer.lab.table import lecture_table

    by_id = {s.id: s for s in STEPS}
    fc = by_id["fc-image"]
    n = fc.preset["input"]
    assert params.first_layer_weights((n, n), 128) == 524_288 and "524,288" in fc.caption
    p = by_id["pooling"].preset
    out = pool.pool(lecture_table(), p["mode"], p["size"], p["stride"])
    assert out.tolist() == [[617, 614], [614, 625]]
    assert "617 614 / 614 625" in by_id["pooling"].caption
    s = by_id["strides"].preset
    chain = conv.size_chain(128, s["size"], s["stride"])
    assert " → ".join(map(str, chain)) in by_id["strides"].caption
    assert chain[3] == 13 and "12 is 13" in by_id["strides"].caption
    pad = by_id["padding"].preset
    assert conv.convolve(lecture_table(), conv.kernel(pad["kernel"], pad["size"]),
                         pad["padding"]).shape == (10, 10)
    assert "10x10" in by_id["padding"].caption
    t = by_id["transposed-conv"].preset
    assert t["operation"] == "transposed" and t["stride"] > 1
    u = by_id["upsample-conv"].preset
    corner = lecture_table()[:4, :4]
    up = conv.upsample(corner, u["stride"], u["interpolation"])
    assert up.shape == (8, 8) and "4x4 to 8x8" in by_id["upsample-conv"].caption
    assert conv.upsample_convolve(corner, conv.kernel(u["kernel"], u["size"]), u["stride"],
                                  u["interpolation"], u["padding"]).shape == (8, 8)
    vgg = params.vgg_totals()
    millions = sorted(round(v / 1e6) for v in vgg.values())
    nums = [int(x) for x in re.findall(r"(\d+) to (\d+) million", by_id["vgg"].caption)[0]]
    assert nums == [millions[0], millions[-1]]


@pytest.mark.parametrize("argv,says", [
    (["--export", "FILE"], "is a file, not a folder"),
    (["--export", "MISSING/deeper"], "does not exist"),
    (["--export", "NEW", "--size", "12x10"], "--size"),
    (["--export", "NEW", "--size", "wide"], "--size"),
    (["--export", "NEW", "--steps", "nope"], "no tour step 'nope'"),
    (["--export", "NEW", "--steps", "0"], "no tour step '0'"),
    (["--export", "NEW", "--steps", ","], "--steps"),
    (["--export", "NEW", "--device", "tpu"], "tpu"),
])
def test_bad_inputs_exit_2_before_work(capsys, tmp_path, argv, says):
    (tmp_path / "FILE").write_text("not a folder")
    argv = [str(tmp_path / a) if a in ("FILE", "MISSING/deeper", "NEW") else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and says in err
    assert len(err.strip().splitlines()) == 1 and out == ""
    assert not (tmp_path / "NEW").exists()  # nothing made before the inputs were checked


def test_gui_tour_step_checked_before_qt(capsys):
    assert main(["gui", "--step", "pooling"]) == 2
    assert "--step goes with --tour" in capsys.readouterr().err
    assert main(["gui", "--tour", "--step", "99"]) == 2
    assert "no tour step '99'" in capsys.readouterr().err
    with pytest.raises(UserError):
        tour.find_step("")
