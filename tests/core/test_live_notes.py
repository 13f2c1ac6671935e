"""What Live writes on the view before a student trusts its top-5."""

import dataclasses

from explorer.app.pictures import open_picture
from explorer.live.notes import live_note, picture_kind, trained_on
from tests.core.test_live_engine import tiny_net


def named(name: str, weights: str = "shipped", task: str = "classify"):
    return dataclasses.replace(tiny_net(), name=name, weights_source=weights, task=task)


def test_notes_say_when_the_top5_means_little():
    assert live_note(None, "camera") is None
    assert "random weights" in live_note(named("resnet18", "random"), "camera")
    assert "random weights" in live_note(tiny_net(), "synthetic")  # never trained
    assert live_note(named("tinyvgg-shapes"), "synthetic") is None
    for kind in ("camera", "video", "picture"):
        assert "drawn shapes" in live_note(named("tinyvgg-shapes"), kind)
    assert "handwritten digit" in live_note(named("lenet5-digits"), "synthetic")
    assert "photos" in live_note(named("resnet18", "hub cache"), "synthetic")
    assert live_note(named("resnet18", "hub cache"), "camera") is None
    assert "not a classifier" in live_note(named("fcn-shapes", task="segment"), "synthetic")


def test_trained_on():
    assert [trained_on(named(n)) for n in ("tinyvgg-shapes", "lenet5-digits", "vgg16")] == [
        "shapes", "digits", "photos"]


def test_still_pictures_are_told_apart():
    assert picture_kind(open_picture("scene:3")) == "synthetic"
    assert picture_kind(open_picture("sample:shape-crop")) == "synthetic"
    assert picture_kind(open_picture("shape-crop")) == "synthetic"
    assert picture_kind(open_picture("sample:digit")) == "digits"
    assert picture_kind(open_picture("sample:astronaut")) == "picture"
    assert live_note(named("lenet5-digits"), "digits") is None
    assert "digit" in live_note(named("tinyvgg-shapes"), "digits")
    assert "not a drawn shape" in live_note(named("tinyvgg-shapes"), "picture")
