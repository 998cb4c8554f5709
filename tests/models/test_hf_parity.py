"""Parity with transformers: random ALBERT checkpoints saved by `save_pretrained`
(safetensors + spiece.model) load into our classes and give the same numbers.

Tolerance: 1e-4 absolute on logits / hidden states (float32 on CPU). All torch parameters
are random N(0, 0.5) - LayerNorm gammas/betas and biases included - so a swapped or
transposed weight cannot hide behind an init of ones/zeros.
"""

import numpy as np
import pytest

from model_helpers import make_hf_checkpoint, random_batch, torch_mlm_logits

ATOL = 1e-4

CONFIGS = {
    "groups1": dict(num_hidden_groups=1, inner_group_num=1),
    "groups2_inner2": dict(num_hidden_groups=2, inner_group_num=2),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def hf_mlm(request, tmp_path_factory, spm_path, vocab_size):
    folder = tmp_path_factory.mktemp(f"hf_{request.param}")
    model = make_hf_checkpoint(folder, spm_path, vocab_size, seed=1,
                               **CONFIGS[request.param])
    return request.param, folder, model


def test_masked_lm_logits_match_transformers(hf_mlm, vocab_size):
    from albert_demo import AlbertMaskedLM
    name, folder, torch_model = hf_mlm
    assert (folder / "model.safetensors").is_file()
    ours = AlbertMaskedLM.from_preset(str(folder))
    assert ours.has_pretrained_head
    cfg = CONFIGS[name]
    assert ours.backbone.num_groups == cfg["num_hidden_groups"]
    assert ours.backbone.num_inner_repetitions == cfg["inner_group_num"]
    batch = random_batch(vocab_size, batch=3, length=20, num_masks=4, seed=7)
    expected = torch_mlm_logits(torch_model, batch)
    got = np.asarray(ours.predict_on_batch(batch))
    assert got.shape == expected.shape == (3, 4, vocab_size)
    diff = float(np.max(np.abs(got - expected)))
    print(f"[hf parity {name}] max |logit diff| = {diff:.3e} "
          f"(logit scale {np.abs(expected).max():.1f})")
    assert diff < ATOL
    # The logits are not trivially small: a real comparison happened.
    assert np.abs(expected).max() > 1.0


def test_attention_maps_match_transformers(hf_mlm, vocab_size):
    """Per applied layer (num_layers * inner_group_num maps), same probabilities."""
    import torch
    from albert_demo import AlbertBackbone
    name, folder, torch_model = hf_mlm
    batch = random_batch(vocab_size, batch=2, length=16, num_masks=2, seed=3)
    backbone = AlbertBackbone.from_preset(str(folder))
    ours = backbone(batch, return_attention=True)
    with torch.no_grad():
        out = torch_model.albert(
            input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
            token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long),
            output_attentions=True)
    theirs = np.stack([a.numpy() for a in out.attentions])
    got = np.asarray(ours["attention_probs"])
    assert got.shape == theirs.shape == (
        4 * CONFIGS[name]["inner_group_num"], 2, 4, 16, 16)
    diff = float(np.max(np.abs(got - theirs)))
    print(f"[hf attention {name}] max |prob diff| = {diff:.3e}")
    assert diff < ATOL
    valid = batch["padding_mask"].astype(bool)
    seq_diff = np.abs(np.asarray(ours["sequence_output"]) - out.last_hidden_state.numpy())
    assert float(seq_diff[valid].max()) < ATOL


MIXED_TEXTS = [
    "The Quick Brown Fox jumped over Café Zürich!",
    "  ``Hello'' said   the   DOG.  ",
    "naïve résumé, déjà vu; Ærøskøbing (piñata) - coöperate?",
    "The sky is [MASK] and the capital of France is Paris.",
    "Paris is the capital of [MASK]",
    "I can't\tdo it\n now, it's über [MASK] [MASK].",
    "[MASK] cats and dogs",
    "HELLO World don't",
]


def test_tokenizer_matches_transformers(hf_mlm):
    from transformers import AlbertTokenizer as HFTokenizer
    from albert_demo import AlbertTokenizer
    _, folder, _ = hf_mlm
    theirs = HFTokenizer.from_pretrained(str(folder))
    ours = AlbertTokenizer.from_preset(str(folder))
    for text in MIXED_TEXTS:
        expected = theirs(text, add_special_tokens=False)["input_ids"]
        assert ours(text).tolist() == expected, text
    # The mask typed in text is the mask token, not pieces of "[MASK]".
    assert 4 in ours("Paris is the capital of [MASK]").tolist()
    assert ours(MIXED_TEXTS[0]).tolist() == ours(MIXED_TEXTS[0].lower()).tolist()


def test_pooler_absent_keeps_backbone_parity(hf_mlm, vocab_size):
    """AlbertForMaskedLM checkpoints carry no pooler: loading still works, sequence
    outputs match; the pooler stays at its (random) init."""
    import torch
    from safetensors.numpy import load_file
    from albert_demo import AlbertBackbone
    _, folder, torch_model = hf_mlm
    keys = load_file(str(folder / "model.safetensors")).keys()
    assert not any("pooler" in k for k in keys)
    backbone = AlbertBackbone.from_preset(str(folder))
    batch = random_batch(vocab_size, batch=2, length=12, num_masks=1, seed=5)
    with torch.no_grad():
        hidden = torch_model.albert(
            input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
            token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long),
        ).last_hidden_state.numpy()
    got = np.asarray(backbone(batch)["sequence_output"])
    valid = batch["padding_mask"].astype(bool)
    assert float(np.abs(got - hidden)[valid].max()) < ATOL


def test_albert_model_keys_without_prefix(tmp_path, spm_path, vocab_size):
    """An `AlbertModel` checkpoint (keys 'embeddings.*', no 'albert.' prefix, pooler
    present, no MLM head): backbone + pooler parity; the MLM loads with a loud warning."""
    import torch
    from safetensors.numpy import load_file
    from albert_demo import AlbertBackbone, AlbertMaskedLM
    torch_model = make_hf_checkpoint(tmp_path, spm_path, vocab_size, seed=11,
                                     model_class="AlbertModel", num_hidden_groups=2,
                                     inner_group_num=2)
    keys = list(load_file(str(tmp_path / "model.safetensors")))
    assert not any(k.startswith("albert.") for k in keys)
    assert "pooler.weight" in keys
    batch = random_batch(vocab_size, batch=3, length=16, num_masks=2, seed=9)
    with torch.no_grad():
        out = torch_model(
            input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
            token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long))
    ours = AlbertBackbone.from_preset(str(tmp_path))(batch)
    valid = batch["padding_mask"].astype(bool)
    seq = float(np.abs(np.asarray(ours["sequence_output"]) -
                       out.last_hidden_state.numpy())[valid].max())
    pooled = float(np.abs(np.asarray(ours["pooled_output"]) -
                          out.pooler_output.numpy()).max())
    print(f"[hf AlbertModel] max |seq diff| = {seq:.3e}, max |pooled diff| = {pooled:.3e}")
    assert seq < ATOL and pooled < ATOL
    with pytest.warns(UserWarning, match="RANDOM"):
        masked_lm = AlbertMaskedLM.from_preset(str(tmp_path))
    assert masked_lm.has_pretrained_head is False


def test_pretraining_checkpoint_with_pooler_and_sop(tmp_path, spm_path, vocab_size):
    """`AlbertForPreTraining` ('albert.' prefix, pooler, sop_classifier): the MLM head
    and the pooler load; the sentence-order head is knowingly ignored."""
    import torch
    from albert_demo import AlbertBackbone, AlbertMaskedLM
    torch_model = make_hf_checkpoint(tmp_path, spm_path, vocab_size, seed=13,
                                     model_class="AlbertForPreTraining")
    batch = random_batch(vocab_size, batch=2, length=14, num_masks=3, seed=2)
    with torch.no_grad():
        out = torch_model(
            input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
            token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long),
            output_hidden_states=True)
        pooled = torch_model.albert.pooler_activation(torch_model.albert.pooler(
            out.hidden_states[-1][:, 0])).numpy()
    expected = np.take_along_axis(out.prediction_logits.numpy(),
                                  batch["mask_positions"][:, :, None], axis=1)
    got = np.asarray(AlbertMaskedLM.from_preset(str(tmp_path)).predict_on_batch(batch))
    diff = float(np.abs(got - expected).max())
    print(f"[hf AlbertForPreTraining] max |logit diff| = {diff:.3e}")
    assert diff < ATOL
    ours_pooled = np.asarray(AlbertBackbone.from_preset(str(tmp_path))(batch)["pooled_output"])
    assert float(np.abs(ours_pooled - pooled).max()) < ATOL
