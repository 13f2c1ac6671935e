"""Running the segmenters on one picture, ground-truth masks, and the scores table."""

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.errors import ModelError, UserError
from explorer.segment import compare, metrics
from explorer.segment.run import (
    MAX_SIDE,
    SHIPPED_SEGMENTERS,
    load_mask,
    load_segmenter,
    network_input,
    picture_from_image,
    picture_from_spec,
    run_segmenters,
    scene_picture,
)


@pytest.fixture(scope="module")
def scene():
    return scene_picture(3)


@pytest.fixture(scope="module")
def preds(scene):
    return run_segmenters(list(SHIPPED_SEGMENTERS), scene)


def test_scene_picture_carries_its_ground_truth(scene):
    assert scene.size == (128, 128)
    assert scene.gt.shape == (128, 128) and scene.gt.dtype == np.int64
    assert scene.gt_classes[0] == "background"
    assert 0 in scene.gt and scene.gt.max() >= 1


def test_every_network_answers_on_the_picture_grid(scene, preds):
    assert list(preds) == list(SHIPPED_SEGMENTERS)
    for p in preds.values():
        assert p.classes.shape == (128, 128)
        assert p.probs.shape == (6, 128, 128)
        np.testing.assert_allclose(p.probs.sum(0), 1.0, atol=1e-4)
        # the class map is the most probable class
        assert (p.probs.argmax(0) == p.classes).all()
        assert sum(p.histogram().values()) == 128 * 128
        assert p.seconds > 0 and p.net_size == (128, 128)


def test_runs_are_deterministic(scene, preds):
    # the same network object (random weights differ from one load to the next when the
    # trained ones are absent)
    nets = {"unet-shapes": preds["unet-shapes"].network}
    again = run_segmenters(["unet-shapes"], scene, networks=nets)["unet-shapes"]
    assert (again.classes == preds["unet-shapes"].classes).all()
    np.testing.assert_allclose(again.probs, preds["unet-shapes"].probs, atol=1e-6)


def test_scores_on_a_fixed_scene(scene, preds):
    table = compare.score_table(preds, scene)
    assert set(table) == set(SHIPPED_SEGMENTERS)
    for name, s in table.items():
        p = preds[name].classes
        assert s.mean_iou == pytest.approx(metrics.mean_iou(p, scene.gt, 6))
        assert s.pixel_accuracy == pytest.approx(float((p == scene.gt).mean()))
        assert s.boundary_f == pytest.approx(metrics.boundary_f_score(p, scene.gt))
        assert set(s.iou) == set(scene.gt_classes)


def test_score_by_hand():
    gt = np.zeros((10, 10), np.int64)
    gt[2:6, 2:6] = 1  # 16 pixels of class 1
    pred = gt.copy()
    pred[2:6, 5] = 0  # lose one column: 12 of 16 right
    s = compare.score(pred, gt, ["bg", "thing"])
    assert s.iou["thing"] == pytest.approx(12 / 16)
    assert s.iou["bg"] == pytest.approx(84 / 88)
    assert s.mean_iou == pytest.approx((12 / 16 + 84 / 88) / 2)
    assert s.pixel_accuracy == pytest.approx(96 / 100)
    assert compare.score(gt, gt, ["bg", "thing"]).boundary_f == 1.0


def test_a_photo_gets_predictions_without_scores():
    rng = np.random.default_rng(0)
    photo = rng.uniform(0, 1, (300, 451, 3)).astype(np.float32)
    pic = picture_from_image(photo, "photo")
    preds = run_segmenters(["fcn-shapes"], pic)
    p = preds["fcn-shapes"]
    assert p.classes.shape == (300, 451)
    # shorter side at the network's 128, both sides multiples of 8
    assert p.net_size[0] == 128 and p.net_size[1] % 8 == 0
    assert compare.score_table(preds, pic) == {}


def test_large_pictures_are_shrunk_with_their_mask():
    img = np.zeros((1000, 600, 3), np.float32)
    gt = np.zeros((1000, 600), np.int64)
    gt[:500] = 2
    pic = picture_from_image(img, "big", gt=gt)
    assert max(pic.size) == MAX_SIDE and pic.gt.shape == pic.size
    assert set(np.unique(pic.gt)) == {0, 2}
    assert (pic.gt[: pic.size[0] // 2 - 1] == 2).all()


def test_mask_png_round_trip(tmp_path, scene):
    path = tmp_path / "mask.png"
    PILImage.fromarray(scene.gt.astype(np.uint8)).save(path)
    assert (load_mask(path, (128, 128)) == scene.gt).all()
    pic = picture_from_spec("scene:3", path)
    assert (pic.gt == scene.gt).all() and pic.gt_classes is None


def test_wrong_size_mask_is_a_user_error(tmp_path):
    path = tmp_path / "small.png"
    PILImage.fromarray(np.zeros((64, 80), np.uint8)).save(path)
    with pytest.raises(UserError, match="80x64 pixels but the image is 128x128") as err:
        picture_from_spec("scene:3", path)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="same size"):
        picture_from_image(np.zeros((32, 32, 3), np.float32), gt=np.zeros((16, 16)))


def test_colour_and_missing_masks_are_user_errors(tmp_path):
    path = tmp_path / "colour.png"
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200
    PILImage.fromarray(rgb).save(path)
    with pytest.raises(UserError, match="class indices"):
        load_mask(path)
    with pytest.raises(UserError, match="no such mask"):
        load_mask(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="not a readable mask"):
        load_mask(tmp_path / "junk.png")


def test_bad_scene_spec():
    with pytest.raises(UserError, match="scene:SEED"):
        picture_from_spec("scene:abc")


def test_unknown_and_non_segmentation_networks():
    with pytest.raises(ModelError, match="unknown segmentation network"):
        load_segmenter("no-such-net")
    with pytest.raises(ModelError, match="not a segmentation network"):
        load_segmenter("resnet18")
    # torchvision's segmenters are never downloaded (tests see an empty hub cache)
    with pytest.raises(ModelError, match="not in the torch hub cache"):
        load_segmenter("fcn_resnet50")


def test_network_input_is_normalised_whole_picture(scene):
    net = load_segmenter("fcn-shapes")
    x = network_input(net, scene)
    assert x.shape == (1, 3, 128, 128)
    mean = np.array(net.mean).reshape(3, 1, 1)
    std = np.array(net.std).reshape(3, 1, 1)
    back = x[0].numpy() * std + mean
    np.testing.assert_allclose(back, scene.image.transpose(2, 0, 1), atol=1e-5)


def test_shapes_sample_comes_with_its_truth():
    pic = picture_from_spec("sample:shapes")
    assert pic.gt is not None and pic.gt.shape == (128, 128)
    assert pic.gt_classes[1] == "circle"
    assert picture_from_spec("sample:coffee").gt is None


def test_grey_uint8_arrays_are_accepted():
    grey = (np.arange(64 * 48, dtype=np.uint32).reshape(64, 48) % 256).astype(np.uint8)
    pic = picture_from_image(grey, "grey")
    assert pic.image.shape == (64, 48, 3) and pic.image.dtype == np.float32
    assert 0.0 <= pic.image.min() and pic.image.max() <= 1.0
    assert run_segmenters(["fcn-shapes"], pic)["fcn-shapes"].classes.shape == (64, 48)
