"""Bad presets and bad inputs fail early with an error that says what is wrong."""

import json
import pickle
import shutil

import pytest

from albert_demo import AlbertBackbone, AlbertMaskedLM
from albert_demo.presets.resolve import PresetError, resolve_preset
from albert_demo.presets.weights import CheckpointError
from model_helpers import random_batch, read_json, write_json

OFFICIAL = ["albert_base_en_uncased", "albert_large_en_uncased",
            "albert_extra_large_en_uncased", "albert_extra_extra_large_en_uncased"]
TINY = dict(vocabulary_size=200, num_layers=2, num_heads=4, num_groups=1,
            num_inner_repetitions=1, embedding_dim=16, hidden_dim=32, intermediate_dim=64,
            max_sequence_length=32)


@pytest.fixture(scope="module")
def good_preset(tmp_path_factory, spm_proto):
    """A valid tiny keras-hub-layout preset written by our own save_to_preset."""
    from albert_demo import AlbertMaskedLMPreprocessor, AlbertTokenizer
    model = AlbertMaskedLM(AlbertBackbone(**TINY), preprocessor=AlbertMaskedLMPreprocessor(
        AlbertTokenizer(spm_proto), sequence_length=16))
    folder = tmp_path_factory.mktemp("good") / "tiny"
    model.save_to_preset(str(folder))
    return folder


@pytest.fixture
def preset_copy(good_preset, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(good_preset, folder)
    return folder


def test_good_preset_loads(good_preset):
    model = AlbertMaskedLM.from_preset(str(good_preset))
    assert model.has_pretrained_head
    assert model.backbone.hidden_dim == 32


def test_unknown_preset_name_lists_known_names():
    with pytest.raises(PresetError) as info:
        AlbertMaskedLM.from_preset("albert_gigantic_en")
    message = str(info.value)
    assert "albert_gigantic_en" in message
    for name in OFFICIAL + ["albert_tiny_en_uncased"]:
        assert name in message


def test_missing_weights_file(preset_copy):
    (preset_copy / "model.weights.h5").unlink()
    with pytest.raises(CheckpointError, match=r"model\.weights\.h5 is missing"):
        AlbertMaskedLM.from_preset(str(preset_copy))


def test_corrupt_weights_file(preset_copy):
    (preset_copy / "model.weights.h5").write_bytes(b"\x00garbage\xff" * 1000)
    with pytest.raises(CheckpointError, match=r"Cannot read weights file .*model\.weights"):
        AlbertMaskedLM.from_preset(str(preset_copy))


def test_corrupt_task_weights_file(preset_copy):
    (preset_copy / "task.weights.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(CheckpointError, match=r"task\.weights\.h5"):
        AlbertMaskedLM.from_preset(str(preset_copy))


def test_shape_mismatch_names_the_weights(preset_copy):
    config = read_json(preset_copy / "config.json")
    config["config"]["hidden_dim"] = 48
    write_json(preset_copy / "config.json", config)
    with pytest.raises(CheckpointError) as info:
        AlbertMaskedLM.from_preset(str(preset_copy))
    message = str(info.value)
    assert "shape mismatch" in message
    assert "embeddings/projection_kernel: checkpoint (16, 32) vs model (16, 48)" in message


def test_pickle_only_hf_folder_is_refused_without_unpickling(tmp_path, spm_path):
    """A folder with only pytorch_model.bin: refused, and the pickle is never opened
    (it would create a marker file if it were)."""
    marker = tmp_path / "UNPICKLED"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    folder = tmp_path / "hf"
    folder.mkdir()
    write_json(folder / "config.json", {
        "model_type": "albert", "vocab_size": 200, "embedding_size": 16,
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 64, "max_position_embeddings": 32, "hidden_act": "gelu_new"})
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Exploit()))
    shutil.copy(spm_path, folder / "spiece.model")
    with pytest.raises(CheckpointError) as info:
        AlbertMaskedLM.from_preset(str(folder))
    assert "pytorch_model.bin" in str(info.value)
    assert "pickle" in str(info.value).lower()
    assert not marker.exists()


@pytest.mark.parametrize("layout", ["keras", "hf"])
def test_absurd_config_refused_before_allocating(preset_copy, tmp_path, layout):
    import tracemalloc
    if layout == "keras":
        folder = preset_copy
        config = read_json(folder / "config.json")
        config["config"]["vocabulary_size"] = 10**12
    else:
        folder = tmp_path / "hf"
        folder.mkdir()
        config = {"model_type": "albert", "vocab_size": 10**12, "embedding_size": 16,
                  "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "intermediate_size": 64, "max_position_embeddings": 32}
    write_json(folder / "config.json", config)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"vocabulary_size=1000000000000"):
            AlbertMaskedLM.from_preset(str(folder))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20  # nothing near the 10**12 * 16 floats it describes


def test_total_parameter_limit(preset_copy):
    config = read_json(preset_copy / "config.json")
    config["config"].update(vocabulary_size=1_000_000, embedding_dim=4096)
    write_json(preset_copy / "config.json", config)
    with pytest.raises(CheckpointError, match="parameters, over the limit"):
        AlbertMaskedLM.from_preset(str(preset_copy))


def test_not_a_preset_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        AlbertMaskedLM.from_preset(str(tmp_path / "empty"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        AlbertMaskedLM.from_preset(str(tmp_path / "bad"))


def test_raw_strings_without_preprocessor_raise_value_error(good_preset):
    model = AlbertMaskedLM.from_preset(str(good_preset), preprocessor=None)
    with pytest.raises(ValueError, match="preprocessor"):
        model.predict(["The sky is [MASK]."])
    with pytest.raises(ValueError, match="preprocessor"):
        model.fit(["The sky is blue.", "Paris is nice."], batch_size=2)
    with pytest.raises(ValueError, match="preprocessor"):
        model.evaluate("The sky is blue.")
    # The preprocessed form still works.
    logits = model.predict(random_batch(200, batch=2, length=16, num_masks=2), verbose=0)
    assert logits.shape == (2, 2, 200)


def test_paths_outside_allowed_dirs_are_refused(good_preset, tmp_path, monkeypatch):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    inside = allowed / "tiny"
    shutil.copytree(good_preset, inside)
    monkeypatch.setenv("ALBERT_DEMO_ALLOWED_DIRS", str(allowed))
    assert AlbertMaskedLM.from_preset(str(inside)).backbone.hidden_dim == 32
    with pytest.raises(PresetError, match="outside the allowed folders"):
        AlbertMaskedLM.from_preset(str(good_preset))
    # A symlink inside the allowed folder that points out of it.
    link = allowed / "escape"
    link.symlink_to(good_preset, target_is_directory=True)
    with pytest.raises(PresetError, match="outside the allowed folders"):
        AlbertMaskedLM.from_preset(str(link))
    # `..` tricks resolve outside too.
    with pytest.raises(PresetError, match="outside the allowed folders"):
        AlbertMaskedLM.from_preset(str(allowed / ".." / "allowed" / ".." / "elsewhere"))
    # Named presets are not paths and still load.
    assert "albert_tiny_en_uncased" in AlbertMaskedLM.presets


def test_the_data_folders_private_parts_are_no_preset(good_preset, tmp_path, monkeypatch):
    """A loopback server allows local folders anywhere, but a path into the data folder
    reached another session's fine-tuned model around the registry's owner check (the
    hostile pass: /models/<abs path of data/finetuned/<hash>/<name>> answered 200). Only
    `$DATA/models` is a preset there; the server's own loads pass `allowed_dirs`."""
    data = tmp_path / "data"
    theirs = data / "finetuned" / "aea2266d" / "secret"
    shared = data / "models" / "team"
    for folder in (theirs, shared):
        shutil.copytree(good_preset, folder)
    monkeypatch.setenv("ALBERT_DEMO_DATA_DIR", str(data))
    for path in (theirs, data / "finetuned" / ".." / "finetuned" / "aea2266d" / "secret"):
        with pytest.raises(PresetError, match="outside the allowed folders"):
            AlbertMaskedLM.from_preset(str(path))
    assert AlbertMaskedLM.from_preset(str(shared)).backbone.hidden_dim == 32
    assert AlbertMaskedLM.from_preset(str(good_preset)).backbone.hidden_dim == 32
    trusted = AlbertMaskedLM.from_preset(str(theirs), allowed_dirs=[theirs.resolve()])
    assert trusted.backbone.hidden_dim == 32


@pytest.mark.parametrize("handle", ["x" * 10_000, "a/" * 600, "\x00preset", "name\ud800",
                                    "x" * 300 + "/", "./" + "y" * 300, "/tmp/\x00/a"])
def test_odd_preset_names_get_a_preset_error(handle):
    with pytest.raises(PresetError):
        resolve_preset(handle)


def test_public_server_fetches_only_official_kaggle_archives(tmp_path, monkeypatch):
    """kagglehub unpacks archives unbounded (a zip bomb's way in): typed-in handles are
    refused before kagglehub is called; the official ones still go through."""
    import kagglehub
    calls = []
    monkeypatch.setattr(kagglehub, "model_download",
                        lambda handle, **kw: calls.append(handle) or str(tmp_path))
    monkeypatch.setenv("ALBERT_DEMO_KAGGLE_HANDLES", "official")
    for handle in ("kaggle://stranger/bomb/keras/big/1",
                   "kaggle://keras/albert/keras/albert_base_en_uncased/5/../../../x/1"):
        with pytest.raises(PresetError, match="only the official Kaggle presets"):
            resolve_preset(handle)
    assert calls == []
    folder, _ = resolve_preset("albert_base_en_uncased", source="kaggle")
    assert folder == tmp_path and calls == ["keras/albert/keras/albert_base_en_uncased/5"]
    monkeypatch.setenv("ALBERT_DEMO_KAGGLE_HANDLES", "any")  # a local library user's choice
    resolve_preset("kaggle://stranger/model/keras/v/1")
    assert calls[-1] == "stranger/model/keras/v/1"


def test_hf_download_offline_names_preset_and_suggests_local(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    # huggingface_hub reads these at import time; patch the live values too.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    with pytest.raises(PresetError) as info:
        AlbertMaskedLM.from_preset("hf://someone/tiny-albert")
    message = str(info.value)
    assert "hf://someone/tiny-albert" in message
    assert "albert_tiny_en_uncased" in message and "local" in message
    # An official name (downloaded from HF by default) fails the same clear way.
    with pytest.raises(PresetError) as info:
        AlbertMaskedLM.from_preset("albert_base_en_uncased")
    assert "albert_base_en_uncased" in str(info.value)
    assert "albert_tiny_en_uncased" in str(info.value)


def test_presets_listing():
    presets = AlbertMaskedLM.presets
    assert set(OFFICIAL) | {"albert_tiny_en_uncased"} <= set(presets)
    expected_params = {"albert_base_en_uncased": 11_683_584,
                       "albert_large_en_uncased": 17_683_968,
                       "albert_extra_large_en_uncased": 58_724_864,
                       "albert_extra_extra_large_en_uncased": 222_595_584}
    for name, params in expected_params.items():
        info = presets[name]
        assert info["parameters"] == params
        assert info["description"]
        assert "hf://albert/albert-" in info["source"] and "kaggle://keras/albert" in (
            info["source"])
    tiny = presets["albert_tiny_en_uncased"]
    assert tiny["parameters"] == 12_958_208 and tiny["description"]
    assert "embedded" in tiny["source"]
    # Every public class lists the same presets.
    from albert_demo import AlbertBackbone, AlbertMaskedLMPreprocessor, AlbertTokenizer
    for cls in (AlbertBackbone, AlbertMaskedLMPreprocessor, AlbertTokenizer):
        assert cls.presets.keys() == presets.keys()


def test_tokenizer_rejects_bad_vocabulary(tmp_path):
    from albert_demo import AlbertTokenizer
    with pytest.raises(ValueError, match="SentencePiece"):
        AlbertTokenizer(b"definitely not a sentencepiece proto")
