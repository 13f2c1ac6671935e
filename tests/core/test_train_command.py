"""`cnn-explorer train` knows every network the project trained, Fast R-CNN's head too."""

from explorer.cli import main


def test_unknown_name_lists_every_trainable_network(capsys):
    assert main(["train", "nonet"]) == 2
    err = capsys.readouterr().err
    for name in ("lenet5-digits", "tinyvgg-shapes", "fcn-shapes", "fcn-dilated-shapes",
                 "unet-shapes", "fast-rcnn-shapes"):
        assert name in err
    assert len(err.strip().splitlines()) == 1


def test_fast_rcnn_is_trained_with_the_commands_task(monkeypatch, tmp_path, capsys):
    from explorer.detect import fast_rcnn_train

    seen = {}

    def fake(out_dir, epochs, task=None, **kwargs):
        seen.update(out_dir=out_dir, epochs=epochs, task=task, **kwargs)
        task.progress(0.5, "halfway")
        task.check()
        return {"name": "fast-rcnn-shapes", "parameters": 1, "epochs": epochs,
                "train_seconds": 1.0, "metrics": {"mAP@0.5": 0.9}, "files": ["a", "b"]}

    monkeypatch.setattr(fast_rcnn_train, "train_fast_rcnn", fake)
    assert main(["train", "fast-rcnn-shapes", "--epochs", "2", "--out", str(tmp_path)]) == 0
    assert seen["out_dir"] == tmp_path and seen["epochs"] == 2
    assert seen["tinyvgg_weights"] is None  # none trained into tmp_path: the shipped one
    assert hasattr(seen["task"], "check") and hasattr(seen["task"], "progress")
    assert "fast-rcnn-shapes: 1 parameters" in capsys.readouterr().out
