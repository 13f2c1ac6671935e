"""Seeds of the shapes world's training and held-out data, as plain numbers (no numpy or
torch), so that a parser's help can name the default without importing the world."""

#: seeds of the training data and the held-out data (never trained on)
TRAIN_SEED = 1
TEST_SEED = 2
