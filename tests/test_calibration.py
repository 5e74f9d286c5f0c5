import numpy as np
import pytest

from maskwatch.calibration import class_ece, ece, fit_temperature, nll, with_temperature


def _overconfident(n=3000, seed=0):
    """Labels drawn from calibrated probabilities, then the probabilities sharpened (temperature 0.5)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, 3))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    truth = np.array([rng.choice(3, p=row) for row in p])
    return with_temperature(p, 0.5), p, truth


def test_calibrated_probabilities_have_small_ece_and_sharpened_ones_do_not():
    sharp, calibrated, truth = _overconfident()
    assert ece(calibrated, truth) < 0.03
    assert ece(sharp, truth) > 0.08
    assert max(class_ece(calibrated, truth)) < 0.03


def test_fitted_temperature_undoes_the_sharpening():
    sharp, _, truth = _overconfident()
    t = fit_temperature(sharp, truth)
    assert t == pytest.approx(2.0, rel=0.15)
    fixed = with_temperature(sharp, t)
    assert ece(fixed, truth) < ece(sharp, truth) / 2 and nll(fixed, truth) < nll(sharp, truth)
    np.testing.assert_allclose(fixed.sum(1), 1, atol=1e-6)
    assert (fixed.argmax(1) == sharp.argmax(1)).all(), "a temperature never changes the label"
