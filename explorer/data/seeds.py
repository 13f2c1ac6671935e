"""Seeds of the shapes world's training and held-out data, as plain numbers (no numpy or
torch), so that a parser's help can name the default without importing the world."""

#: seeds of the training data and the held-out data (never trained on)
TRAIN_SEED = 1
TEST_SEED = 2

#: seed of the validation scenes that choose when a segmenter's training stops
VAL_SEED = 3

#: seeds whose scenes a network has seen while it was trained or chosen: never "held out"
SEEN_SEEDS = {TRAIN_SEED: "training", VAL_SEED: "validation"}
