"""Training the shipped networks: ``train(name)`` writes ``pretrained/NAME.pt`` and its model
card ``NAME.json``. See :mod:`explorer.train.loop` and :mod:`explorer.train.recipes`."""

from explorer.train.loop import evaluate, load_card, load_trained, predict, train, trainable

__all__ = ["train", "trainable", "evaluate", "predict", "load_card", "load_trained"]
