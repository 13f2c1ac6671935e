"""Detection the lecture's way (no Qt here).

- :mod:`~explorer.detect.sliding`: a classifier slid over an image pyramid, naive (crop
  every window) or shared (the classifier as convolutions, OverFeat); per-class score maps.
- :mod:`~explorer.detect.proposals`: selective search (opencv-contrib) and proposal recall.
- :mod:`~explorer.detect.rcnn`: R-CNN, every proposal warped (RoIAlign on the picture) to
  the classifier's input.
- :mod:`~explorer.detect.fast_rcnn`: Fast R-CNN, one trunk pass and RoIAlign on the feature
  map (network: :mod:`explorer.nets.fast_rcnn`; training:
  :mod:`~explorer.detect.fast_rcnn_train`).
- :mod:`~explorer.detect.mtcnn`: the MTCNN face cascade.
- :mod:`~explorer.detect.evaluate`: precision, recall, VOC AP and mAP on held-out scenes.
- :mod:`~explorer.detect.pipeline`: one entry point (``DetectConfig`` + ``Detector``) for
  the CLI, the GUI and the evaluation; :mod:`~explorer.detect.boxes`: the shared result
  type, NMS and box coding; :mod:`~explorer.detect.draw`: boxes onto a PNG.
"""
