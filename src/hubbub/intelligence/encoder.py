"""A fine-tuned sentence encoder for sentiment, run with ONNX Runtime: slower, more accurate.

The model is all-MiniLM-L6-v2 (6 layers, 384 wide) fine-tuned on SemEval
with a three-way head, exported to ONNX with its linear layers quantised to
int8 (`encoder_training.train_encoder_sentiment`). One `.onnx` file holds
everything: the graph, the weights, and in its metadata the WordPiece
tokeniser, the labels, the version and the model card, so loading reads
data and executes no code. Inference needs `onnxruntime` and `tokenizers`
only, never torch.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from hubbub.intelligence.linear import softmax_rows, top_labels

if TYPE_CHECKING:
    import onnxruntime  # type: ignore[import-untyped]
    import tokenizers

# Metadata keys in the ONNX file.
META_VERSION = "hubbub.version"
META_LABELS = "hubbub.labels"
META_CARD = "hubbub.card"
META_TOKENIZER = "hubbub.tokenizer"
META_MAX_TOKENS = "hubbub.max_tokens"

_HANDLE = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_REPEAT = re.compile(r"(.)\1{3,}")
# Symbols the uncased WordPiece vocabulary lacks: emoji become their Unicode
# names ("face with tears of joy"), which the encoder can read; skin tones,
# variation selectors and joiners carry no sentiment and are dropped.
_DROPPED_CATEGORIES = frozenset({"Sk", "Mn", "Cf", "Co", "Cs", "Cn"})


MODELS = Path(__file__).resolve().parent / "models"


def default_path() -> Path:
    """Where the shipped encoder model lives (`hubbub train sentiment-encoder` writes it)."""
    return MODELS / "sentiment-encoder.onnx"


class EncoderUnavailable(RuntimeError):
    """onnxruntime or tokenizers is not installed (`pip install hubbub[encoder]`)."""


def prepare(text: str) -> str:
    """The text as the encoder reads it, in training and in use alike.

    Handles become `@user` and links `http` (as in TweetEval), HTML
    entities are decoded, long letter runs shortened, emoji spelled out.
    """
    text = html.unescape(text)
    text = _URL.sub("http", text)
    text = _HANDLE.sub("@user", text)
    text = _REPEAT.sub(r"\1\1\1", text)
    return "".join(_spell(char) for char in text)


def _spell(char: str) -> str:
    if char.isascii():
        return char
    category = unicodedata.category(char)
    if category == "So":
        name = unicodedata.name(char, "")
        return f" {name.lower()} " if name else " "
    if category in _DROPPED_CATEGORIES and ord(char) > 0x2000:
        return ""
    return char


@dataclass(frozen=True)
class EncoderSentiment:
    version: str
    labels: tuple[str, ...]
    card: dict[str, object]
    max_tokens: int
    session: onnxruntime.InferenceSession
    tokenizer: tokenizers.Tokenizer

    @classmethod
    def load(cls, path: Path, *, threads: int = 1) -> EncoderSentiment:
        """Load an exported model; `threads` caps ONNX Runtime's intra-op threads.

        Raises EncoderUnavailable when the runtime packages are missing and
        FileNotFoundError when the file is.
        """
        if not path.is_file():
            raise FileNotFoundError(path)
        try:
            import onnxruntime
            import tokenizers
        except ImportError as error:
            raise EncoderUnavailable(
                f"{error.name} is not installed: pip install 'hubbub[encoder]'"
            ) from error

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        meta = session.get_modelmeta().custom_metadata_map
        max_tokens = int(meta[META_MAX_TOKENS])
        tokenizer = tokenizers.Tokenizer.from_str(meta[META_TOKENIZER])
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)
        return cls(
            version=meta[META_VERSION],
            labels=tuple(json.loads(meta[META_LABELS])),
            card=json.loads(meta[META_CARD]),
            max_tokens=max_tokens,
            session=session,
            tokenizer=tokenizer,
        )

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), classes) class probabilities, in the order of `labels`.

        One post per run: the int8 layers scale their inputs by the range of
        the whole batch, so a post batched with others could get a slightly
        different answer; alone, a post's answer is its own (and costs about
        15% of the speed, padding saved included).
        """
        result = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not texts:
            return result
        encodings = self.tokenizer.encode_batch([prepare(text) for text in texts])
        for row, encoding in enumerate(encodings):
            ids = np.array([encoding.ids], dtype=np.int64)
            inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            (logits,) = self.session.run(["logits"], inputs)
            result[row] = logits[0]
        return softmax_rows(result)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return top_labels(self.labels, self.probabilities(texts))


class Probabilities(Protocol):
    """What a sentiment model offers: LinearModel, EncoderSentiment and Cascade all do."""

    @property
    def version(self) -> str: ...

    @property
    def labels(self) -> tuple[str, ...]: ...

    def probabilities(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Cascade:
    """The fast model answers the posts it is sure of; the accurate model reads the rest.

    The hashed linear model labels ~8,000 posts/s on one core, the encoder a
    few hundred; sending only the posts where the fast model's top
    probability is below `confidence` to the encoder keeps most of the
    encoder's accuracy at a multiple of its speed. Throughput depends on the
    traffic: it is the share of unsure posts that costs.
    """

    fast: Probabilities
    accurate: Probabilities
    confidence: float

    def __post_init__(self) -> None:
        if self.fast.labels != self.accurate.labels:
            raise ValueError(f"labels differ: {self.fast.labels} != {self.accurate.labels}")

    @property
    def version(self) -> str:
        return f"{self.fast.version}<{self.confidence:g}>{self.accurate.version}"

    @property
    def labels(self) -> tuple[str, ...]:
        return self.fast.labels

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self.refine(texts, self.fast.probabilities(texts))

    def refine(self, texts: Sequence[str], fast: np.ndarray) -> np.ndarray:
        """The cascade's answer from the fast model's probabilities, computed elsewhere
        already (the pipeline shares them with the intent model); `fast` is not changed."""
        result = fast.copy()
        unsure = np.flatnonzero(result.max(axis=1) < self.confidence)
        if unsure.size:
            result[unsure] = self.accurate.probabilities([texts[int(row)] for row in unsure])
        return result

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return top_labels(self.labels, self.probabilities(texts))
