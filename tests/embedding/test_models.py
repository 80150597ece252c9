"""Models from local weights (issue 14 item 3): registration, pooling, prompts, refusals.

Every model here is the shipped all-MiniLM-L6-v2 copied into a temporary directory and
edited the way another model's files would differ; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import httpx
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from safetensors.numpy import load_file, save_file
from upstash_vector.errors import UpstashError
from upstash_vector.types import Data

from search.embedding import (
    BUILTIN_MODEL,
    ModelRegistrationError,
    ModelUnavailableError,
    ModelWeightsMissingError,
    clear_cache,
    get_model,
    get_spec,
    list_models,
)
from search.embedding.encoder import SentenceEncoder
from search.embedding.registry import _BGE_QUERY, _builtin_dir, parse_models_setting, read_registry_file
from search.errors import InvalidInput
from search.services.indexes import IndexSpec, _dimension_for_models

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["hello world", "The quick brown fox jumps over the lazy dog.", "", "Postgres stores vectors."]
MakeModel = Callable[..., Path]


@pytest.fixture(autouse=True)
def _own_registry(settings, tmp_path: Path) -> Iterator[None]:
    settings.VECSITE_EMBEDDING_REGISTRY = tmp_path / "embedding-models.json"
    settings.VECSITE_EMBEDDING_MODELS = ""
    yield
    clear_cache()


@pytest.fixture(scope="module")
def builtin() -> SentenceEncoder:
    model = SentenceEncoder(_builtin_dir(), name=BUILTIN_MODEL)
    return model


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    """A copy of the MiniLM directory (weights linked, not copied), edited by ``edit``."""

    def make(name: str = "model", edit: Callable[[Path], None] | None = None) -> Path:
        target = tmp_path / name
        shutil.copytree(_builtin_dir(), target, ignore=shutil.ignore_patterns("model.safetensors"))
        (target / "model.safetensors").symlink_to(_builtin_dir() / "model.safetensors")
        if edit is not None:
            edit(target)
        return target

    return make


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(changes)
    path.write_text(json.dumps(data))


def _cls_pooling(directory: Path) -> None:
    _edit_json(directory / "1_Pooling" / "config.json", pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)


def test_it_serves_a_registered_directory_like_the_builtin(settings, make_model: MakeModel, builtin) -> None:
    settings.VECSITE_EMBEDDING_MODELS = f"MYMINI={make_model()}"
    model = get_model("MYMINI")
    assert model.dimension == 384
    np.testing.assert_array_equal(model.embed_documents(TEXTS), builtin.embed_documents(TEXTS))
    assert get_model("MYMINI") is model  # loaded once per process


def test_it_pools_the_cls_token_when_the_files_say_so(settings, make_model: MakeModel, builtin) -> None:
    settings.VECSITE_EMBEDDING_MODELS = f"MYCLS={make_model(edit=_cls_pooling)}"
    model = get_model("MYCLS")
    assert get_spec("MYCLS").pooling == "cls"
    got = model.embed_documents(TEXTS)
    for text, vector in zip(TEXTS, got, strict=True):
        cls = builtin.hidden_states(text)[0].astype(np.float64)  # the same forward pass
        np.testing.assert_allclose(vector, cls / np.linalg.norm(cls), rtol=0, atol=1e-7)
    assert np.all(np.sum(got * builtin.embed_documents(TEXTS), axis=1) < 0.99)  # not the mean


def test_it_normalises_only_when_the_modules_say_so(settings, make_model: MakeModel, builtin) -> None:
    def no_normalize(directory: Path) -> None:
        modules = json.loads((directory / "modules.json").read_text())
        (directory / "modules.json").write_text(json.dumps(modules[:2]))

    settings.VECSITE_EMBEDDING_MODELS = f"RAW={make_model(edit=no_normalize)}"
    got = get_model("RAW").embed_documents(TEXTS[:2])
    mean = np.array([builtin.hidden_states(t).mean(axis=0) for t in TEXTS[:2]])
    np.testing.assert_allclose(got, mean, rtol=1e-6, atol=1e-7)
    assert np.all(np.abs(np.linalg.norm(got, axis=1) - 1.0) > 1e-3)


def test_it_prefixes_queries_and_documents_with_their_own_prompts(settings, make_model: MakeModel, builtin) -> None:
    def prompts(directory: Path) -> None:
        _edit_json(
            directory / "config_sentence_transformers.json", prompts={"query": "query: ", "passage": "passage: "}
        )

    settings.VECSITE_EMBEDDING_MODELS = f"PROMPTED={make_model(edit=prompts)}"
    model = get_model("PROMPTED")
    np.testing.assert_array_equal(model.embed_queries(TEXTS), builtin.embed_documents([f"query: {t}" for t in TEXTS]))
    np.testing.assert_array_equal(
        model.embed_documents(TEXTS), builtin.embed_documents([f"passage: {t}" for t in TEXTS])
    )


def test_it_gives_bge_queries_the_model_cards_instruction_and_documents_none(
    settings,
    make_model: MakeModel,
    builtin: SentenceEncoder,
) -> None:
    # bge-small-en-v1.5's files state no prompts; the hosted name brings the instruction.
    settings.VECSITE_EMBEDDING_MODELS = f"BGE_SMALL_EN_V1_5={make_model()}"
    model = get_model("BGE_SMALL_EN_V1_5")
    assert get_spec("BGE_SMALL_EN_V1_5").query_prompt == _BGE_QUERY
    np.testing.assert_array_equal(model.embed_queries(["cats"]), builtin.embed_documents([_BGE_QUERY + "cats"]))
    np.testing.assert_array_equal(model.embed_documents(["cats"]), builtin.embed_documents(["cats"]))


def test_it_lets_the_files_turn_the_hosted_instruction_off(settings, make_model: MakeModel, builtin) -> None:
    def no_query_prompt(directory: Path) -> None:
        _edit_json(directory / "config_sentence_transformers.json", prompts={"query": ""})

    settings.VECSITE_EMBEDDING_MODELS = f"BGE_SMALL_EN_V1_5={make_model(edit=no_query_prompt)}"
    assert get_spec("BGE_SMALL_EN_V1_5").query_prompt == ""
    np.testing.assert_array_equal(
        get_model("BGE_SMALL_EN_V1_5").embed_queries(["cats"]), builtin.embed_documents(["cats"])
    )


def test_it_reads_xlm_roberta_position_ids_after_the_padding_index(
    settings,
    make_model: MakeModel,
    builtin: SentenceEncoder,
) -> None:
    """BGE-M3 is an XLM-RoBERTa: its positions start at pad_token_id + 1. A MiniLM whose
    position table is shifted down by that much must give MiniLM's vectors."""

    def as_xlm_roberta(directory: Path) -> None:
        weights = load_file(str(_builtin_dir() / "model.safetensors"))
        table = weights["embeddings.position_embeddings.weight"]
        weights["embeddings.position_embeddings.weight"] = np.concatenate([np.zeros_like(table[:2]), table])
        (directory / "model.safetensors").unlink()
        save_file(weights, str(directory / "model.safetensors"))
        _edit_json(directory / "config.json", model_type="xlm-roberta", pad_token_id=1, max_position_embeddings=514)

    settings.VECSITE_EMBEDDING_MODELS = f"SHIFTED={make_model(edit=as_xlm_roberta)}"
    long_text = " ".join(["vectors"] * 400)  # truncated at 256 either way
    texts = [*TEXTS, long_text]
    np.testing.assert_allclose(get_model("SHIFTED").embed_documents(texts), builtin.embed_documents(texts), atol=1e-6)


def test_it_refuses_an_index_for_a_hosted_model_without_weights() -> None:
    with pytest.raises(ModelWeightsMissingError) as info:
        get_spec("BGE_SMALL_EN_V1_5")
    message = str(info.value)
    assert message.startswith("BGE_SMALL_EN_V1_5 needs its weights: download ")
    assert "https://huggingface.co/BAAI/bge-small-en-v1.5" in message
    assert "model.safetensors" in message and "1_Pooling/config.json" in message
    assert "VECSITE_EMBEDDING_MODELS=BGE_SMALL_EN_V1_5=" in message
    assert "register_model BGE_SMALL_EN_V1_5" in message
    with pytest.raises(InvalidInput) as refused:  # what index creation does with it
        _dimension_for_models(IndexSpec(name="small", embedding_model="BGE_SMALL_EN_V1_5"))
    assert refused.value.message.endswith(message)


@pytest.mark.parametrize("name", ["BGE_BASE_EN_V1_5", "BGE_LARGE_EN_V1_5", "BGE_M3"])
def test_it_knows_every_hosted_name(name: str) -> None:
    with pytest.raises(ModelWeightsMissingError, match=f"^{name} needs its weights"):
        get_model(name)


def test_it_refuses_a_directory_of_the_wrong_dimension_for_a_hosted_name(settings, make_model: MakeModel) -> None:
    settings.VECSITE_EMBEDDING_MODELS = f"BGE_BASE_EN_V1_5={make_model()}"
    with pytest.raises(ModelRegistrationError, match=r"768-dimensional, but .* 384-dimensional"):
        get_spec("BGE_BASE_EN_V1_5")


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda d: _edit_json(d / "1_Pooling" / "config.json", pooling_mode_max_tokens=True), "only mean or CLS"),
        (lambda d: (d / "tokenizer.json").unlink(), "missing model file .*tokenizer.json"),
        (lambda d: (d / "model.safetensors").unlink(), "missing model file .*model.safetensors"),
        (lambda d: _edit_json(d / "config.json", hidden_act="swish"), "unsupported hidden_act"),
        (
            lambda d: (d / "modules.json").write_text(
                json.dumps(
                    [
                        *json.loads((d / "modules.json").read_text()),
                        {"idx": 3, "path": "3_Dense", "type": "sentence_transformers.models.Dense"},
                    ]
                )
            ),
            "unsupported sentence-transformers module",
        ),
    ],
)
def test_it_refuses_files_it_cannot_reproduce(settings, make_model: MakeModel, edit, error: str) -> None:
    settings.VECSITE_EMBEDDING_MODELS = f"ODD={make_model(edit=edit)}"
    with pytest.raises(ModelRegistrationError, match=error):
        get_model("ODD")
    (row,) = [row for row in list_models() if row.name == "ODD"]
    assert row.status.startswith("error: ") and "ODD" in row.status


@pytest.mark.parametrize("value", ["FOO", "FOO=", "foo=/x", "BM25=/x", f"{BUILTIN_MODEL}=/x", "A B=/x"])
def test_it_rejects_a_malformed_models_setting(value: str) -> None:
    with pytest.raises(ValueError):
        parse_models_setting(value)


def test_it_parses_the_models_setting() -> None:
    assert parse_models_setting(" A=/a , B_2=/b/c,") == {"A": Path("/a"), "B_2": Path("/b/c")}


def test_register_model_persists_for_other_processes(settings, make_model: MakeModel, builtin) -> None:
    directory = make_model()
    registry = settings.VECSITE_EMBEDDING_REGISTRY
    call_command("register_model", "MYMINI", str(directory), stdout=StringIO())
    assert read_registry_file(registry) == {"MYMINI": directory.resolve()}
    # This process sees it at once (no restart)...
    np.testing.assert_array_equal(get_model("MYMINI").embed_documents(TEXTS), builtin.embed_documents(TEXTS))
    # ...and so does another one reading the same file (a web or Celery worker).
    env = {**os.environ, "VECSITE_EMBEDDING_REGISTRY": str(registry), "VECSITE_EMBEDDING_MODELS": ""}
    out = subprocess.run(
        [sys.executable, "manage.py", "list_models", "--json"], cwd=ROOT, env=env, capture_output=True, check=True
    )
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    assert rows["MYMINI"]["status"] == "ready"
    assert rows["MYMINI"]["source"] == "registry file"
    assert rows["MYMINI"]["pooling"] == "mean" and rows["MYMINI"]["dimension"] == 384
    assert rows["BGE_SMALL_EN_V1_5"]["status"] == "needs weights"
    assert rows[BUILTIN_MODEL]["source"] == "built-in"

    call_command("register_model", "MYMINI", "--remove", stdout=StringIO())
    assert read_registry_file(registry) == {}
    with pytest.raises(ModelUnavailableError):
        get_spec("MYMINI")


def test_register_model_refuses_what_would_not_work(settings, make_model: MakeModel, tmp_path: Path) -> None:
    quiet = {"stdout": StringIO()}
    directory = make_model()
    with pytest.raises(CommandError, match="upper case"):
        call_command("register_model", "my-model", str(directory), **quiet)
    with pytest.raises(CommandError, match="built in"):
        call_command("register_model", BUILTIN_MODEL, str(directory), **quiet)
    with pytest.raises(CommandError, match="not a directory"):
        call_command("register_model", "NOWHERE", str(tmp_path / "nowhere"), **quiet)
    with pytest.raises(CommandError, match="768-dimensional"):
        call_command("register_model", "BGE_BASE_EN_V1_5", str(directory), **quiet)
    assert read_registry_file(settings.VECSITE_EMBEDDING_REGISTRY) == {}  # nothing half-registered

    call_command("register_model", "MINE", str(directory), **quiet)
    other = make_model("other")
    with pytest.raises(CommandError, match="already registered"):
        call_command("register_model", "MINE", str(other), **quiet)
    call_command("register_model", "MINE", str(other), "--replace", **quiet)
    assert read_registry_file(settings.VECSITE_EMBEDDING_REGISTRY) == {"MINE": (tmp_path / "other").resolve()}


def test_the_setting_wins_over_the_registry_file(settings, make_model: MakeModel) -> None:
    call_command("register_model", "MINE", str(make_model("from-file")), stdout=StringIO())
    settings.VECSITE_EMBEDDING_MODELS = f"MINE={make_model('from-setting', edit=_cls_pooling)}"
    spec = get_spec("MINE")
    assert spec.registration.source == "setting" and spec.pooling == "cls"


def test_list_models_shows_every_hosted_name_and_how_to_get_it(settings, make_model: MakeModel, capsys) -> None:
    settings.VECSITE_EMBEDDING_MODELS = f"BGE_SMALL_EN_V1_5={make_model(edit=_cls_pooling)}"
    call_command("list_models")
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.split()[1].isdigit()}
    assert set(rows) == {BUILTIN_MODEL, "BGE_SMALL_EN_V1_5", "BGE_BASE_EN_V1_5", "BGE_LARGE_EN_V1_5", "BGE_M3"}
    assert "ready" in rows[BUILTIN_MODEL] and "built-in" in rows[BUILTIN_MODEL]
    small = rows["BGE_SMALL_EN_V1_5"]
    assert "setting" in small and "cls+norm" in small and "ready" in small
    large = rows["BGE_LARGE_EN_V1_5"]
    assert "1024" in large and "needs weights" in large
    assert "https://huggingface.co/BAAI/bge-large-en-v1.5" in out


def test_a_broken_registry_file_leaves_the_builtin_model_working(settings, builtin) -> None:
    Path(settings.VECSITE_EMBEDDING_REGISTRY).write_text("{not json")
    np.testing.assert_array_equal(get_model(BUILTIN_MODEL).embed_documents(TEXTS), builtin.embed_documents(TEXTS))
    with pytest.raises(ModelRegistrationError, match="cannot read the model registry"):
        get_model("MYMINI")
    rows = {row.name: row for row in list_models()}
    assert rows[BUILTIN_MODEL].status == "ready"
    assert rows["BGE_SMALL_EN_V1_5"].status.startswith("error: cannot read the model registry")


def test_it_answers_503_when_an_index_s_model_is_gone(settings, make_model: MakeModel, live_index) -> None:
    settings.VECSITE_EMBEDDING_MODELS = f"MYMINI={make_model()}"
    live = live_index("gone", dimension=None, embedding_model="MYMINI")
    sdk = live.sdk()
    sdk.upsert([Data(id="a", data="cats purr")])
    settings.VECSITE_EMBEDDING_MODELS = ""  # the operator removed the registration
    clear_cache()
    with pytest.raises(UpstashError) as caught:
        sdk.query(data="cats", top_k=1)
    assert str(caught.value).startswith("data: this index's embedding model is not available here: ")
    response = httpx.post(
        f"{live.url}/query-data", json={"data": "cats", "topK": 1}, headers={"Authorization": f"Bearer {live.token}"}
    )
    assert response.status_code == 503 and response.json()["status"] == 503
    assert sdk.fetch("a")[0] is not None  # the stored record is untouched
