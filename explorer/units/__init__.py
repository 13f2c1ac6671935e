"""What does this unit look for? Feature visualisation, top dataset patches, backward views
from one unit and a sanity check of saliency maps, for every channel of any network.

Compute only: tensors in, arrays out, a :class:`~explorer.core.tasks.Task` for long work.
"""
