"""Running the segmenters on one picture, ground-truth masks, and the scores table."""

import numpy as np
import pytest
from PIL import Image as PILImage

from explorer.app.pictures import open_picture
from explorer.core.images import load_image
from explorer.data import shapes
from explorer.errors import ImageError, ModelError, UserError
from explorer.segment import compare, metrics
from explorer.segment.run import (
    MAX_SIDE,
    SHIPPED_SEGMENTERS,
    load_mask,
    load_segmenter,
    network_input,
    run_segmenters,
    seg_picture,
    segmenter_classes,
    shapes_warning,
)


def scene_picture(n):
    return seg_picture(open_picture(f"scene:{n}"))


def picture_from_image(array, name="image", gt=None):
    return seg_picture(load_image(np.asarray(array), name=name), gt)


@pytest.fixture(scope="module")
def scene():
    return scene_picture(3)


def test_scene_n_is_held_out_scene_n(scene):
    # the same picture and mask as Detection's scene:3 and scene 3 of `segment --eval`
    held = shapes.held_out_scene(3)
    np.testing.assert_array_equal(scene.image, held.image)
    np.testing.assert_array_equal(scene.gt, held.mask)
    assert scene.shapes_world and scene.source == "scene:3"
    ev = compare.held_out_batch(3, 4)[0]
    np.testing.assert_array_equal(ev.mask, held.mask)
    np.testing.assert_array_equal(ev.image, shapes.scene_set(4, shapes.TEST_SEED)[3].image)


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
    classes = segmenter_classes("fcn-shapes")
    mask = load_mask(path, (128, 128), classes)
    assert (mask == scene.gt).all()
    # a person's mask replaces the scene's own truth, with the network's class names
    pic = seg_picture(open_picture("scene:3"), mask, classes)
    assert (pic.gt == scene.gt).all() and pic.gt_classes == tuple(shapes.CLASSES)


def test_wrong_size_mask_is_a_user_error(tmp_path):
    path = tmp_path / "small.png"
    PILImage.fromarray(np.zeros((64, 80), np.uint8)).save(path)
    with pytest.raises(UserError, match="80x64 pixels but the image is 128x128") as err:
        load_mask(path, (128, 128))
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="same size"):
        picture_from_image(np.zeros((32, 32, 3), np.float32), gt=np.zeros((16, 16)))


def test_colour_and_missing_masks_are_user_errors(tmp_path):
    path = tmp_path / "colour.png"
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200
    PILImage.fromarray(rgb).save(path)
    with pytest.raises(ImageError, match="class indices"):
        load_mask(path)
    with pytest.raises(ImageError, match="no such file"):
        load_mask(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        load_mask(tmp_path)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ImageError, match="not a readable mask"):
        load_mask(tmp_path / "junk.png")


def test_mask_values_must_be_classes(tmp_path):
    classes = segmenter_classes("unet-shapes")
    big = tmp_path / "seven.png"
    values = np.zeros((8, 8), np.uint8)
    values[2, 3] = 7
    PILImage.fromarray(values).save(big)
    with pytest.raises(ImageError, match="holds the value 7, but unet-shapes has only 6 "
                                         "classes") as err:
        load_mask(big, (8, 8), classes, "unet-shapes")
    assert "\n" not in str(err.value)
    negative = tmp_path / "negative.tif"  # 32-bit signed: PNG cannot hold it
    values = np.zeros((8, 8), np.int32)
    values[0, 0] = -2
    PILImage.fromarray(values, mode="I").save(negative)
    with pytest.raises(ImageError, match="cannot be negative"):
        load_mask(negative, (8, 8), classes)
    grey_rgb = tmp_path / "grey_rgb.png"
    PILImage.fromarray(np.dstack([np.full((8, 8), 4, np.uint8)] * 3)).save(grey_rgb)
    assert (load_mask(grey_rgb, (8, 8), classes) == 4).all()


def test_bad_scene_spec():
    with pytest.raises(ImageError, match="scene:N"):
        open_picture("scene:abc")


def test_unknown_and_non_segmentation_networks():
    with pytest.raises(ModelError, match="unknown segmentation network"):
        load_segmenter("no-such-net")
    with pytest.raises(ModelError, match="not a segmentation network"):
        load_segmenter("resnet18")
    # torchvision's segmenters are never downloaded (tests see an empty hub cache)
    with pytest.raises(ModelError, match="not in the torch hub cache"):
        load_segmenter("fcn_resnet50")
    with pytest.raises(ModelError, match="not a segmentation network"):
        segmenter_classes("tinyvgg-shapes")


def test_network_input_is_normalised_whole_picture(scene):
    net = load_segmenter("fcn-shapes")
    x = network_input(net, scene)
    assert x.shape == (1, 3, 128, 128)
    mean = np.array(net.mean).reshape(3, 1, 1)
    std = np.array(net.std).reshape(3, 1, 1)
    back = x[0].numpy() * std + mean
    np.testing.assert_allclose(back, scene.image.transpose(2, 0, 1), atol=1e-5)


def test_shapes_sample_comes_with_its_truth():
    pic = seg_picture(open_picture("sample:shapes"))
    assert pic.gt is not None and pic.gt.shape == (128, 128)
    assert pic.gt_classes[1] == "circle"
    assert seg_picture(open_picture("sample:coffee")).gt is None


def test_shapes_networks_on_a_photo_say_so():
    photo = seg_picture(open_picture("sample:coffee"))
    assert not photo.shapes_world
    text = shapes_warning(["fcn-shapes", "unet-shapes"], photo)
    assert "fcn-shapes and unet-shapes were trained only on synthetic shapes" in text
    assert "mean little" in text
    assert shapes_warning(["fcn-shapes"], seg_picture(open_picture("scene:1"))) is None


def test_grey_uint8_arrays_are_accepted():
    grey = (np.arange(64 * 48, dtype=np.uint32).reshape(64, 48) % 256).astype(np.uint8)
    pic = picture_from_image(grey, "grey")
    assert pic.image.shape == (64, 48, 3) and pic.image.dtype == np.float32
    assert 0.0 <= pic.image.min() and pic.image.max() <= 1.0
    assert run_segmenters(["fcn-shapes"], pic)["fcn-shapes"].classes.shape == (64, 48)
