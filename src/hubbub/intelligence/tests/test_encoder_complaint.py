"""The encoder complaint model: the exported ONNX file, alone and blended with the linear model."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from hubbub.intelligence import encoder_complaint, evaluation, training
from hubbub.intelligence.encoder import EncoderSentiment
from hubbub.intelligence.encoder_complaint import BlendedComplaint, default_path, labels_for
from hubbub.intelligence.linear import LinearModel
from hubbub.testing import missing_component

RUNTIME = ("onnxruntime", "tokenizers")

COMPLAINTS = [
    "@united two hours on hold and my bag is STILL lost. Worst airline ever.",
    "@AppleSupport my phone died after the update and nobody will help me, ridiculous",
]
NOT_COMPLAINTS = [
    "@united thanks so much to the crew on UA 88, a lovely flight!",
    "Happy Friday everyone, see you at the game tonight",
]


def shipped_encoder() -> EncoderSentiment:
    missing = [name for name in RUNTIME if importlib.util.find_spec(name) is None]
    if missing:
        missing_component(f"{', '.join(missing)} not installed (pip install 'hubbub[encoder]')")
    path = Path(os.environ.get("HUBBUB_COMPLAINT_ENCODER_MODEL", default_path()))
    if not path.is_file():
        missing_component(f"no encoder complaint model at {path} (hubbub train complaint-encoder)")
    return EncoderSentiment.load(path)


def shipped_linear() -> LinearModel:
    path = training.MODELS / "complaint.npz"
    if not path.is_file():
        missing_component(f"no linear complaint model at {path} (hubbub train complaint)")
    return LinearModel.load(path)


class TestShippedEncoder:
    def test_labels_version_and_card(self) -> None:
        model = shipped_encoder()
        assert model.labels == evaluation.COMPLAINT_LABELS
        assert model.version == encoder_complaint.ENCODER_COMPLAINT_VERSION
        assert {"data", "method", "evaluation", "figures", "trained"} <= set(model.card)
        figures = model.card["figures"]
        assert isinstance(figures, dict)
        assert figures["macro_f1"] >= 0.8

    def test_tells_a_complaint_from_a_pleasantry(self) -> None:
        model = shipped_encoder()
        probabilities = model.probabilities(COMPLAINTS + NOT_COMPLAINTS)
        assert probabilities.shape == (4, 2)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
        assert labels_for(probabilities[:, 0]) == ["complaint"] * 2 + ["not_complaint"] * 2

    def test_a_post_scores_the_same_alone_or_in_a_batch(self) -> None:
        model = shipped_encoder()
        together = model.probabilities(COMPLAINTS + NOT_COMPLAINTS)
        alone = model.probabilities(COMPLAINTS[1:2])
        np.testing.assert_allclose(together[1], alone[0], atol=1e-6)

    def test_empty_and_hostile_text(self) -> None:
        model = shipped_encoder()
        assert model.probabilities([]).shape == (0, 2)
        assert model.probabilities(["", "\x00\ud800 💥" * 500]).shape == (2, 2)


class TestBlend:
    def test_is_the_weighted_mean_of_both_models(self) -> None:
        encoder, linear = shipped_encoder(), shipped_linear()
        blend = BlendedComplaint(encoder, linear, weight=0.5)
        texts = COMPLAINTS + NOT_COMPLAINTS
        expected = 0.5 * encoder.probabilities(texts) + 0.5 * linear.probabilities(texts)
        np.testing.assert_allclose(blend.probabilities(texts), expected, atol=1e-6)
        assert [label for label, _ in blend.predict(texts)] == labels_for(expected[:, 0])
        assert blend.labels == evaluation.COMPLAINT_LABELS

    def test_refuses_models_with_different_labels(self) -> None:
        encoder = shipped_encoder()
        linear = shipped_linear()
        other = LinearModel("x", ("a", "b"), linear.weights, linear.bias, linear.card)
        with pytest.raises(ValueError, match="labels differ"):
            BlendedComplaint(encoder, other)


def test_labels_for_splits_at_one_half() -> None:
    assert labels_for(np.array([0.5, 0.49, 0.9])) == ["complaint", "not_complaint", "complaint"]
