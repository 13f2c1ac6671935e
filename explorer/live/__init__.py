"""Live feature maps: frames from a camera, a video file or moving shapes go through a
network one at a time, newest first, and only the shown layer's mosaic and the top-5
leave the compute device. No Qt here: the GUI's Live panel and ``cnn-explorer live``
both drive :class:`~explorer.live.engine.LiveEngine`."""
