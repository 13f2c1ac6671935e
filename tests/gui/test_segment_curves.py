"""The Segmentation section's 'How they were trained' page: the cards' learning curves,
in the theme's colours, and the lines that say what they show."""

from explorer.gui.segment.curves import LearningCurves
from explorer.segment.fair_training import architecture_facts, load_cards


def _card(steps, miou, bf1, bf2, stopped="patience"):
    return {"curve": [{"step": s, "train_loss": 1.0 / (i + 1), "val_mean_iou": m}
                      for i, (s, m) in enumerate(zip(steps, miou))],
            "steps": steps[-1], "steps_to_convergence": steps[-2], "stopped_by": stopped,
            "metrics": {"mean_iou": miou[-1], "pixel_accuracy": 0.98,
                        "boundary_f_score": bf2, "boundary_f_score_1px": bf1}}


FACTS = {"fcn-shapes": {"encoder": 294000, "decoder": 9990, "total": 303990, "field": 76},
         "unet-shapes": {"encoder": 165636, "decoder": 106338, "total": 271974,
                         "field": 96}}


def test_curves_and_verdict_from_cards(qtbot):
    from explorer.gui.common import theme

    cards = {"fcn-shapes": _card([150, 300, 450], [0.5, 0.8, 0.81], 0.80, 0.95),
             "unet-shapes": _card([150, 300, 450, 600], [0.3, 0.6, 0.85, 0.85], 0.86,
                                  0.96)}
    w = LearningCurves(cards, FACTS)
    qtbot.addWidget(w)
    assert set(w.items) == {"fcn-shapes", "unet-shapes"}
    xs, ys = w.items["unet-shapes"][0].getData()
    assert list(xs) == [150, 300, 450, 600] and list(ys) == [0.3, 0.6, 0.85, 0.85]
    text = w.text.text()
    assert "U-Net keeps boundaries better: U-Net 0.860 against FCN 0.800" in text
    assert "best at step 450 of 600" in text and "stopped improving" in text
    assert "165,636 in the encoder" in text and "U-Net 96 px, FCN 76 px" in text
    legend = w.miou_plot.getPlotItem().legend
    label = legend.items[0][1]
    assert label.opts.get("color") is not None
    assert str(theme.current().text).lower() in str(label.opts["color"]).lower() or \
        label.opts["color"] == theme.current().text


def test_shipped_cards_without_curves_say_so(qtbot):
    cards = load_cards()
    w = LearningCurves(cards, architecture_facts(list(cards)))
    qtbot.addWidget(w)
    has_curve = any(c.get("curve") for c in cards.values())
    assert bool(w.items) == has_curve
    if not has_curve:
        assert "fixed budget" in w.text.text()


def test_the_verdict_is_read_whole_beside_the_plots(qtbot):
    """Beside the plots, the words of the shipped cards fit a 1366 x 768 window's page
    (about 1340 x 560) without scrolling, in the normal theme."""
    from PySide6.QtCore import QCoreApplication

    cards = load_cards()
    w = LearningCurves(cards, architecture_facts(list(cards)))
    qtbot.addWidget(w)
    w.resize(1340, 560)
    w.show()
    qtbot.waitExposed(w)
    QCoreApplication.processEvents()
    plots, words = w.splitter.sizes()
    assert words / (plots + words) >= 0.4, (plots, words)
    area = w.splitter.widget(1)
    assert area.verticalScrollBar().maximum() == 0, "the verdict needs scrolling"
    assert "U-Net" in w.text.text() and w.text.isVisible()
