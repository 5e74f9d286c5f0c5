"""One home for each default: the presets, their checks, and that every verb starts from them."""

import math
import re
from pathlib import Path

import pytest

from maskwatch.cli import build_parser
from maskwatch.settings import EVALUATION, PHOTO, PRESETS, VIDEO, Settings, VideoSettings

SRC = Path(__file__).resolve().parents[1] / "src" / "maskwatch"


def test_presets_are_the_operating_points():
    assert PRESETS == {"photo": PHOTO, "video": VIDEO, "evaluation": EVALUATION}
    assert (PHOTO.upscale, PHOTO.conf) == (2.25, None)  # the threshold follows the classifier
    assert (VIDEO.upscale, VIDEO.conf, VIDEO.flip) == (1.0, 0.5, False)
    assert (EVALUATION.upscale, EVALUATION.conf) == (2.25, 0.05)
    assert PHOTO.resolved(rejects_non_faces=True).conf == 0.25 and PHOTO.resolved(False).conf == 0.5
    assert Settings.from_dict(VIDEO.to_dict()) == VIDEO


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"upscale": math.nan}, "upscale must be a finite number"),
        ({"upscale": math.inf}, "upscale must be a finite number"),
        ({"upscale": 0}, "upscale must be a finite number"),
        ({"conf": 1.5}, "between 0 and 1"),
        ({"max_side": 8}, "at least 32"),
        ({"labels_from": "head"}, "labels_from must be one of"),
        ({"threads": 0}, "threads"),
        ({"upscal": 2}, "unknown setting"),
    ],
)
def test_bad_settings_are_one_line(bad, message):
    with pytest.raises(ValueError, match=message):
        PHOTO.but(**bad)


def test_bad_video_settings_are_one_line():
    with pytest.raises(ValueError, match="detect_every"):
        VideoSettings(detect_every=0)
    with pytest.raises(ValueError, match="class prior"):
        VideoSettings(class_prior="uniform")
    with pytest.raises(ValueError, match="stall_timeout"):
        VideoSettings(stall_timeout=math.nan)


def test_cli_defaults_come_from_the_presets():
    parse = build_parser().parse_args
    image = parse(["image", "x.jpg"])
    assert (image.upscale, image.conf, image.max_side, image.detector) == (PHOTO.upscale, None, PHOTO.max_side, PHOTO.detector)
    video = parse(["video", "--source", "x.mp4"])
    assert (video.upscale, video.conf) == (VIDEO.upscale, VIDEO.conf)
    assert parse(["evaluate", "--annotations", "a.json"]).conf == EVALUATION.conf


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "0"])
def test_upscale_nan_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["image", "x.jpg", "--upscale", text])
    assert exc.value.code == 2 and "--upscale" in capsys.readouterr().err


def test_defaults_are_written_once_in_src():
    # The operating-point numbers appear as literals in settings.py only; everything else names them.
    literal = re.compile(r"(upscale|conf|score_threshold|max_side)\s*[=:]\s*(?:float\s*=\s*)?(2\.25|0\.25|0\.05|1280|0\.5)\b")
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "settings.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if literal.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert offenders == []


def test_unknown_option_hints_come_from_the_verb(capsys):
    from maskwatch.cli import main

    with pytest.raises(SystemExit):
        main(["image", "x.jpg", "--detect-evry", "2"])  # a video option, mistyped, on image
    err = capsys.readouterr().err
    assert "--detect-every" not in err  # image has no such option: no hint towards video's
    with pytest.raises(SystemExit):
        main(["video", "--source", "x.mp4", "--detect-evry", "2"])
    assert "similar options are --detect-every" in capsys.readouterr().err


def test_face_trust_weights_the_face_probability_by_height():
    import numpy as np

    from maskwatch.face_score import SizeTrust, face_scores
    from maskwatch.settings import PHOTO, Settings

    det, face, h = np.array([0.8, 0.8, 0.8]), np.array([0.25, 0.25, 0.25]), np.array([10.0, 20.0, 40.0])
    assert np.allclose(face_scores(det, face, h, SizeTrust(*PHOTO.face_trust)), 0.2)  # the default: the product
    s = face_scores(det, face, h, SizeTrust(10, 30))  # ignored at 10 px, half at 20, full from 30
    assert np.allclose(s, [0.8, 0.8 * 0.25**0.5, 0.2])
    for bad in ((30, 10), (-1, 5), (1,), ("a", 2), (float("nan"), 3)):
        with pytest.raises(ValueError, match="face_trust"):
            Settings(face_trust=bad)
    assert Settings.from_dict(PHOTO.but(face_trust=(4, 24)).to_dict()).face_trust == (4.0, 24.0)
