"""Session fixtures for the model tests: a tiny SentencePiece model (no network).

Helpers (random checkpoints, inputs, torch reference logits) live in `model_helpers.py`.
"""

import pytest

from model_helpers import english_sentences, train_spm


@pytest.fixture(scope="session")
def spm_proto():
    """~200 pieces trained on generated mixed-case, accented, punctuated sentences."""
    import sentencepiece as spm
    proto = train_spm(english_sentences(500))
    sp = spm.SentencePieceProcessor(model_proto=proto)
    assert [sp.id_to_piece(i) for i in range(5)] == [
        "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    return proto


@pytest.fixture(scope="session")
def spm_path(spm_proto, tmp_path_factory):
    path = tmp_path_factory.mktemp("spm") / "tiny.spm"
    path.write_bytes(spm_proto)
    return path


@pytest.fixture(scope="session")
def vocab_size(spm_proto):
    import sentencepiece as spm
    return spm.SentencePieceProcessor(model_proto=spm_proto).get_piece_size()
