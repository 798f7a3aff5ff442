"""`hubbub train <task> --with-corrections`: the agents' corrections join the public data."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.intelligence import training
from hubbub.intelligence.intent import IntentModel
from hubbub.intelligence.services import correct_label
from hubbub.intelligence.tests.factories import scored_mention
from hubbub.testing import missing_component, run_hubbub


def test_an_installation_trains_its_own_intent_model_beside_the_shipped_one(
    committed_cast: Cast, tmp_path: Path
) -> None:
    cast = committed_cast
    mention = scored_mention(workspace=cast.brightwave, intent=("complaint", 0.6))
    correct_label(user=cast.cara, mention_id=mention.pk, task="intent", label="feedback")

    done = run_hubbub(
        "train", "intent", "--with-corrections", extra_env={"HUBBUB_MODEL_DIR": str(tmp_path)}
    )
    if done.returncode == 2:
        missing_component(done.stderr)
    assert done.returncode == 0, done.stderr
    assert "adding 1 corrected mention(s) to the public data" in done.stdout

    # Written to the installation's folder, named for what it learnt from.
    model = IntentModel.load(tmp_path / "intent.npz")
    assert model.version == "intent-stacked-1-c1"
    assert "1 labels corrected by this installation's agents" in str(model.card["data"])
    card = (tmp_path / "intent.md").read_text()
    assert card.startswith("# Model card: intent-stacked-1-c1")


def test_the_installation_s_own_model_wins_over_the_shipped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBBUB_MODEL_DIR", str(tmp_path))
    assert training.model_path("sentiment") == training.MODELS / "sentiment.npz"  # none of its own
    (tmp_path / "sentiment.npz").write_bytes(b"")
    assert training.model_path("sentiment") == tmp_path / "sentiment.npz"
    assert training.output_path("intent") == tmp_path / "intent.npz"
    monkeypatch.delenv("HUBBUB_MODEL_DIR")
    assert training.output_path("intent") == training.MODELS / "intent.npz"
