"""The insight choices a person can type, as plain names: the class-activation methods,
the augmentation variants and the fine-tuning tasks.

No torch, torchvision or grad-cam here, so that ``cnn-explorer cam --help`` and the other
parsers are built without importing them (issue 17). The modules that implement the
choices (:mod:`~explorer.insight.cam`, :mod:`~explorer.insight.augment`,
:mod:`~explorer.insight.finetune`) import these names and check theirs against them.
"""

#: method name -> (pytorch_grad_cam class name, what it does, in a few words)
METHODS: dict[str, tuple[str, str]] = {
    "gradcam": ("GradCAM", "maps weighted by the mean gradient of the class score"),
    "gradcam++": ("GradCAMPlusPlus", "maps weighted by positive second-order gradients"),
    "xgradcam": ("XGradCAM", "maps weighted by activation-scaled gradients"),
    "layercam": ("LayerCAM", "every position weighted by its own positive gradient"),
    "hirescam": ("HiResCAM", "gradient times activation, summed over maps"),
    "eigencam": ("EigenCAM", "first principal component of the maps (ignores the class)"),
    "scorecam": ("ScoreCAM", "each map masks the input; weight = the class score (slow)"),
}
METHOD_NAMES = list(METHODS)

#: the augmentation variants, in the order they are shown ("original" first)
VARIANT_NAMES = [
    "original", "rotate 15°", "rotate -15°", "rotate 45°", "rotate 90°", "scale 0.75",
    "scale 1.25", "flip left-right", "flip up-down", "centre crop 70%", "shift right 1/8",
    "darker", "brighter", "low contrast", "grey", "hue shift", "inverted", "blur",
]

#: shipped fine-tuning tasks: name -> description
TASKS = {
    "shapes-round-pointed": "shapes-world crops regrouped: round (circle) vs pointed "
                            "(triangle, star)",
    "shapes-corners": "shapes-world crops regrouped by corner count: none (circle), "
                      "three (triangle), four (square), many (star, cross)",
    "digits": "scikit-learn's handwritten digits, 0-9",
    "digits-odd-even": "scikit-learn's digits regrouped: even vs odd",
}
