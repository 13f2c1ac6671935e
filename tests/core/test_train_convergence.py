"""The segmenters' one training protocol: early stopping on a validation set that is
neither the training nor the test scenes, the best weights kept, the card's curve."""

import json

import numpy as np
import pytest
import torch

from explorer.data import shapes
from explorer.train import convergence as C
from explorer.train.loop import _normaliser, _prepare, predict
from explorer.train.recipes import RECIPES, augment, build


def test_seeds_disjoint_and_no_scene_leaks_into_training_or_stopping():
    seeds = C.disjoint_seeds()
    assert len(set(seeds.values())) == 3
    assert C.PROTOCOL.val_seed == seeds["validation"] == C.VAL_SEED
    train, _ = shapes.scenes_to_tensors(shapes.scene_set(120, shapes.TRAIN_SEED))
    val, _ = C.validation_set(60)
    test, _ = shapes.scenes_to_tensors(shapes.scene_set(60, shapes.TEST_SEED))
    train = (train * 255).round().to(torch.uint8)
    test = (test * 255).round().to(torch.uint8)
    # pixel for pixel, not trusting the seeds; and the check does see a real leak
    assert C.same_scenes(train, val) == 0
    assert C.same_scenes(train, test) == 0
    assert C.same_scenes(val, test) == 0
    assert C.same_scenes(val, torch.cat([train[:5], val[7:9]])) == 2
    # `segment --eval` and scene:N are the test scenes, never the validation ones
    assert np.array_equal(shapes.held_out_scene(4).image,
                          shapes.scene_set(5, shapes.TEST_SEED)[4].image)


def _loop(protocol, max_steps=None, seed=0):
    recipe = RECIPES["fcn-shapes"]
    mean, std = _normaliser("fcn-shapes")
    x, y = shapes.scenes_to_tensors(shapes.scene_set(8, shapes.TRAIN_SEED))
    xv, yv = C.validation_set(4)
    torch.manual_seed(0)
    model = build(recipe)
    return C.train_to_convergence(
        model, (x * 255).round().to(torch.uint8), y, xv, yv,
        prepare=lambda b: _prepare(b, mean, std),
        augment=lambda a, b, g: augment(recipe, a, b, g),
        predict=lambda m, b: predict(m, b, mean, std),
        protocol=protocol, seed=seed, max_steps=max_steps)


def test_patience_stops_lowers_the_rate_and_keeps_the_best_weights():
    # a gain of 10 is impossible: the first evaluation stays the best
    p = C.Protocol(batch_size=4, eval_every=1, patience=3, lr_patience=2, min_delta=10.0,
                   warmup_steps=0, max_steps=50, n_val=4)
    run = _loop(p)
    assert run.stopped_by == "patience"
    assert run.best_step == 1 and run.steps == 4
    assert [c["step"] for c in run.curve] == [1, 2, 3, 4]
    assert run.curve[3]["lr"] == pytest.approx(p.lr * p.lr_factor)
    assert run.curve[0]["lr"] == p.lr
    # the weights returned are those of step 1, not of step 4
    one = _loop(C.Protocol(batch_size=4, eval_every=1, warmup_steps=0, n_val=4),
                max_steps=1)
    a, b = run.model.state_dict(), one.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not run.model.training


def test_improving_run_goes_on_and_a_real_gain_counts():
    p = C.Protocol(batch_size=4, eval_every=5, patience=2, min_delta=0.0,
                   warmup_steps=2, max_steps=15, n_val=4)
    run = _loop(p)
    assert run.stopped_by in ("step cap", "patience")
    vals = [c["val_mean_iou"] for c in run.curve]
    assert run.best_val["mean_iou"] == pytest.approx(max(vals), abs=1e-5)
    assert run.best_step == run.curve[int(np.argmax(vals))]["step"]
    assert {"mean_iou", "pixel_accuracy", "boundary_f_score", "boundary_f_score_1px"} \
        <= set(run.best_val)


def test_scores_report_both_tolerances():
    gt = torch.zeros(1, 16, 16, dtype=torch.long)
    gt[0, 4:12, 4:12] = 1
    off = torch.roll(gt, 2, dims=2)  # edges two pixels off
    s = C.scores(off, gt)
    assert s["boundary_f_score"] > s["boundary_f_score_1px"]
    assert C.scores(gt, gt)["boundary_f_score_1px"] == 1.0


def test_max_minutes_is_checked_before_work(capsys, tmp_path):
    from explorer.cli import main

    for bad in ("0", "-3", "nan", "abc"):
        assert main(["train", "unet-shapes", "--max-minutes", bad, "--out",
                     str(tmp_path)]) == 2, bad
        assert "--max-minutes" in capsys.readouterr().err
    assert main(["train", "lenet5-digits", "--max-minutes", "5", "--out",
                 str(tmp_path)]) == 2
    assert "segmenters" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_card_records_protocol_curve_and_sets(tmp_path):
    from explorer.train import train

    card = train("unet-shapes", out_dir=tmp_path, epochs=1, n_train=16, n_test=6)
    saved = json.loads((tmp_path / "unet-shapes.json").read_text())
    assert saved["protocol"]["val_seed"] == C.VAL_SEED
    assert f"seed={C.VAL_SEED}" in saved["data"]["validation"]
    assert f"seed={shapes.TEST_SEED}" in saved["data"]["held_out"]
    assert saved["steps"] == 2 and saved["stopped_by"] == "step cap"
    assert [p["step"] for p in saved["curve"]] == [2]
    assert set(saved["metrics"]) == {"mean_iou", "pixel_accuracy", "boundary_f_score",
                                     "boundary_f_score_1px"}
    assert saved["metrics"] == card["metrics"]
    assert not list(tmp_path.glob(".*.curve.json"))  # the watch file is gone


def test_segmenters_train_on_random_crops_that_keep_masks_on_their_pictures():
    # every segmenter gets the same crops (one protocol); a crop cut in the wrong place of
    # the mask would teach the network labels shifted off their shapes
    recipes = [RECIPES[n] for n in ("fcn-shapes", "fcn-dilated-shapes", "unet-shapes")]
    assert {r.crop for r in recipes} == {96}
    x, y = shapes.scenes_to_tensors(shapes.scene_set(6, shapes.TRAIN_SEED))
    x8 = (x * 255).round().to(torch.uint8)
    # tag each pixel's label into the picture, so the pair can be checked after the cut
    tagged = x8.clone()
    tagged[:, 0] = y.to(torch.uint8) * 40
    g = torch.Generator().manual_seed(1)
    cx, cy = augment(recipes[2], tagged.clone(), y.clone(), g)
    assert cx.shape == (6, 3, 96, 96) and cy.shape == (6, 96, 96)
    assert torch.equal(cx[:, 0], cy.to(torch.uint8) * 40)
    # the crops fall in different places: not all at one corner
    corners = {tuple(c[1, :2, :2].flatten().tolist()) for c in cx}
    assert len(corners) > 1
    # pictures no larger than the crop pass whole; classifiers are never cropped
    small, small_y = augment(recipes[2], x8[:, :, :96, :96].clone(), y[:, :96, :96].clone(), g)
    assert small.shape[-1] == 96
    assert RECIPES["tinyvgg-shapes"].crop == 0
