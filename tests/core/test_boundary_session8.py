"""The eighth session's adversarial probe of the command line, as tests: comma lists with an
empty item, options the chosen detection method never reads, an option given twice,
``tour --list`` with options it used to ignore unchecked, a superscript digit in ``--size``
and a 300-digit duration in an error.

Each refused case: exit code 2, one line on stderr starting ``error: ``, nothing on stdout
and nothing written."""

import pytest

from explorer.cli import main


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_CACHE", str(tmp_path / "cache"))


def refused(capsys, argv, words: str) -> str:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (argv, code, err[-400:])
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in lines[0], lines[0]
    assert out == "", out
    return lines[0]


# --- a comma list with an empty item ---------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["detect", "-i", "sample:shapes", "--scales", "1,,2"], "scales '1,,2': an empty item"),
    (["detect", "-i", "sample:shapes", "--scales", "1,"], "scales '1,': an empty item"),
    (["detect", "-i", "sample:shapes", "--scales", ",1"], "scales ',1': an empty item"),
    (["segment", "-i", "sample:shapes", "--models", "fcn-shapes,,unet-shapes"],
     "--models 'fcn-shapes,,unet-shapes': an empty item"),
    (["segment", "-i", "sample:shapes", "--models", "fcn-shapes,unet-shapes", "--compare",
      "fcn-shapes,,unet-shapes"], "--compare 'fcn-shapes,,unet-shapes': an empty item"),
    (["tour", "--list", "--steps", "1,,2"], "--steps '1,,2': an empty item"),
    (["augment", "-i", "sample:shapes", "--variants", "original,,"],
     "--variants 'original,,': an empty item"),
    (["unit", "-m", "tinyvgg-shapes", "-l", "features.conv1", "-c", "0", "--steps", "2",
      "--views", "gradient,,guided", "-o", "{tmp}/u.png"],
     "--views 'gradient,,guided': an empty item"),
], ids=["detect-scales-middle", "detect-scales-trailing", "detect-scales-leading",
        "segment-models", "segment-compare", "tour-steps", "augment-variants", "unit-views"])
def test_a_comma_list_with_an_empty_item_is_one_line(capsys, tmp_path, argv, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    refused(capsys, argv, words)
    assert not list(tmp_path.glob("*.png"))


def test_a_scale_given_twice_is_refused(capsys):
    refused(capsys, ["detect", "-i", "sample:shapes", "--scales", "1,1"],
            "scale 1 is given twice")


# --- detection options the chosen method never reads ----------------------------------

@pytest.mark.parametrize("argv, words", [
    (["--method", "mtcnn", "--scales", "1"],
     "--scales shapes the sliding window; the mtcnn method slides none"),
    (["--method", "proposals", "--containment", "0.5"],
     "--containment shapes the sliding window; the proposals method"),
    (["--method", "proposals", "--window", "32", "--stride", "4"],
     "--window, --stride shape the sliding window"),
    (["--mode", "quality"], "--mode tunes the selective search of --method proposals; the "
                            "sliding method runs none"),
    (["--method", "mtcnn", "--max-proposals", "10"], "--max-proposals tunes the selective"),
    (["--method", "mtcnn", "--iou", "0.5"], "MTCNN uses its own per-stage overlaps"),
], ids=["mtcnn-scales", "proposals-containment", "proposals-window", "sliding-mode",
        "mtcnn-max-proposals", "mtcnn-iou"])
def test_detect_refuses_an_option_its_method_never_reads(capsys, argv, words):
    refused(capsys, ["detect", "-i", "sample:shapes", *argv], words)


def test_detect_eval_without_a_method_still_takes_both_kinds_of_options(capsys, one_thread):
    # --eval without --method scores every shapes method: --scales and --mode both count
    code = main(["detect", "--eval", "1", "--method", "proposals", "--mode", "fast",
                 "--max-proposals", "50"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "mAP@0.5" in out


# --- the same option twice --------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["predict", "-m", "lenet5-digits", "-i", "sample:digit", "-i", "sample:shapes"],
     "--image is given more than once (-i twice)"),
    (["features", "-m", "tinyvgg-shapes", "-i", "sample:shapes", "-l", "features.conv1",
      "-o", "{tmp}/a.png", "--out={tmp}/b.png"], "--out is given more than once (-o and --out)"),
    (["predict", "-m", "lenet5-digits", "--ima", "sample:digit", "--image",
      "sample:shapes"], "--image is given more than once (--ima and --image)"),
    (["tour", "--list", "--presentation", "--no-presentation"],
     "--presentation and --no-presentation contradict each other"),
], ids=["image", "out-two-spellings", "abbreviation", "boolean-pair"])
def test_an_option_given_twice_is_one_line(capsys, tmp_path, argv, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    refused(capsys, argv, words)
    assert not list(tmp_path.glob("*.png"))


def test_a_flag_said_twice_and_a_device_overridden_are_still_fine(capsys):
    # a later --device overrides an earlier one (argparse's rule, on which scripts rely)
    assert main(["predict", "-m", "lenet5-digits", "-i", "sample:digit", "--json",
                 "--json", "--device", "cuda", "--device", "cpu"]) == 0
    assert '"model": "lenet5-digits"' in capsys.readouterr().out


def test_augment_variants_of_nothing_but_commas_is_refused(capsys):
    refused(capsys, ["augment", "-i", "sample:shapes", "--variants", ","],
            "--variants ',' names no variant")


# --- tour --list checks what it used to ignore ---------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["--device", "cuda:7"], "use --device cpu"),
    (["--size", "abc"], "--size 'abc': give WIDTHxHEIGHT"),
    (["--export", "{tmp}/slides"], "--list prints the steps, --export renders them"),
], ids=["absent-gpu", "bad-size", "list-and-export"])
def test_tour_list_checks_every_option(capsys, tmp_path, monkeypatch, argv, words):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    refused(capsys, ["tour", "--list", *argv], words)
    assert not (tmp_path / "slides").exists()


@pytest.mark.parametrize("command", [["tour", "--list"], ["gui", "--screenshot", "{tmp}/s.png"]])
def test_a_superscript_digit_in_size_is_one_line_not_a_traceback(capsys, tmp_path, command):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
    refused(capsys, [*argv, "--size", "²x1080"], "--size '²x1080': give WIDTHxHEIGHT")
    assert not (tmp_path / "s.png").exists()


# --- live: an absurd pace gives a readable duration ---------------------------------

def test_live_names_a_huge_duration_in_a_few_characters(capsys):
    line = refused(capsys, ["live", "-m", "tinyvgg-shapes", "--frames", "2", "--fps",
                            "1e-300"], "take 1e+300 s, longer than the whole run")
    assert len(line) < 200


# --- ~user of a user who does not exist -----------------------------------------------

@pytest.mark.parametrize("argv", [
    ["predict", "-m", "lenet5-digits", "-i", "~nosuchuser8/x.png"],
    ["features", "-m", "tinyvgg-shapes", "-i", "sample:shapes", "-l", "features.conv1",
     "-o", "~nosuchuser8/x.png"],
    ["train", "lenet5-digits", "--out", "~nosuchuser8/w"],
    ["unit", "-m", "tinyvgg-shapes", "-l", "features.conv1", "-c", "0", "--steps", "2",
     "-g", "~nosuchuser8/g", "-o", "{tmp}/u.png"],
], ids=["input", "output", "train-folder", "unit-gallery"])
def test_an_unknown_users_home_is_one_line_not_a_traceback(capsys, tmp_path, argv):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    refused(capsys, argv, "~nosuchuser8 names no user whose home folder is known")
    assert not list(tmp_path.glob("*.png"))


# --- output names: a trailing slash, a control character ----------------------------

@pytest.mark.parametrize("name, words", [
    ("out.png/", "ends in '/', which names a folder; give a file name such as "),
    ("new\nline.png", "the name holds a control character ('\\n')"),
    ("tab\t.png", "the name holds a control character ('\\t')"),
], ids=["trailing-slash", "newline", "tab"])
def test_an_output_name_a_person_did_not_mean_is_one_line(capsys, tmp_path, monkeypatch,
                                                          name, words):
    monkeypatch.chdir(tmp_path)
    refused(capsys, ["features", "-m", "tinyvgg-shapes", "-i", "sample:shapes", "-l",
                     "features.conv1", "-o", name], words)
    assert list(tmp_path.iterdir()) == [tmp_path / "cache"] or not list(tmp_path.iterdir())


def test_a_slide_folder_with_a_newline_is_refused_before_it_is_made(capsys, tmp_path):
    refused(capsys, ["tour", "--export", tmp_path / "sl\nides"], "control character")
    assert not (tmp_path / "sl\nides").exists()
