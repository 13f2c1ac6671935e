"""`cnn-explorer train` knows every network the project trained, Fast R-CNN's head too."""

from explorer.cli import main


def test_unknown_name_lists_every_trainable_network(capsys):
    assert main(["train", "nonet"]) == 2
    err = capsys.readouterr().err
    for name in ("lenet5-digits", "tinyvgg-shapes", "fcn-shapes", "fcn-dilated-shapes",
                 "unet-shapes", "fast-rcnn-shapes"):
        assert name in err
    assert len(err.strip().splitlines()) == 1
