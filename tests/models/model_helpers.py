"""Helpers shared by tests/models (importable as `model_helpers`; conftest holds fixtures)."""

import io
import json
import random
import shutil
from pathlib import Path

import numpy as np

WORDS = ["the", "quick", "brown", "fox", "jumped", "over", "lazy", "dog", "café", "naïve",
         "résumé", "Zürich", "über", "déjà", "vu", "I", "forgot", "my", "homework", "sky",
         "is", "blue", "Paris", "capital", "of", "France", "cats", "and", "dogs", "running",
         "happily", "élan", "Ærøskøbing", "piñata", "coöperate", "Hello", "World", "don't",
         "can't", "it's", "a", "river", "bank", "money", "green", "tree", "house"]
PUNCT = [".", ",", "!", "?", ";", ":", '"', "'", "(", ")", "-", "``", "''"]

# The same tiny architecture shape is reused by many tests.
TINY_HF = dict(embedding_size=16, hidden_size=32, num_hidden_layers=4,
               num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
               type_vocab_size=2, hidden_act="gelu_new", hidden_dropout_prob=0.0,
               attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)


def english_sentences(count, seed=0):
    """Generated English-ish sentences with mixed case, accents and punctuation."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(count):
        words = []
        for _ in range(rng.randint(3, 12)):
            word = rng.choice(WORDS)
            r = rng.random()
            if r < 0.2:
                word = word.capitalize()
            elif r < 0.3:
                word = word.upper()
            words.append(word)
            if rng.random() < 0.2:
                words.append(rng.choice(PUNCT))
        sentences.append(" ".join(words))
    return sentences


def train_spm(sentences, vocab_size=200):
    """A unigram SentencePiece model with ALBERT's special ids: <pad> 0, <unk> 1,
    [CLS] 2, [SEP] 3, [MASK] 4; no BOS/EOS."""
    import sentencepiece as spm
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"], hard_vocab_limit=False,
        minloglevel=2)
    return model.getvalue()


def randomize_torch(model, seed, std=0.5):
    """Overwrite every parameter (LayerNorms and biases too) with N(0, std)."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * std)
    return model


def make_hf_checkpoint(folder, spm_path, vocab_size, seed=0, model_class="AlbertForMaskedLM",
                       **config_overrides):
    """Save a random transformers ALBERT (safetensors) + spiece.model; return the torch model."""
    import transformers
    config = transformers.AlbertConfig(vocab_size=vocab_size, **{**TINY_HF,
                                                                 **config_overrides})
    config._attn_implementation = "eager"
    model = getattr(transformers, model_class)(config)
    randomize_torch(model, seed)
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    model.eval()
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    shutil.copy(spm_path, folder / "spiece.model")
    return model


def random_batch(vocab_size, batch=3, length=20, num_masks=4, seed=0, pad_lengths=None):
    """Packed-looking inputs with padding, two segments and valid mask positions."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, vocab_size, (batch, length)).astype("int32")
    padding_mask = np.ones((batch, length), "int32")
    segment_ids = np.zeros((batch, length), "int32")
    mask_positions = np.zeros((batch, num_masks), "int32")
    pad_lengths = pad_lengths or [max(length - 5 * i, length // 2 + 2) for i in range(batch)]
    for row, n in enumerate(pad_lengths):
        token_ids[row, 0] = 2
        token_ids[row, n - 1] = 3
        token_ids[row, n:] = 0
        padding_mask[row, n:] = 0
        segment_ids[row, n // 2:n] = 1
        positions = np.sort(rng.choice(np.arange(1, n - 1), num_masks, replace=False))
        mask_positions[row] = positions
        token_ids[row, positions[:2]] = 4
    return {"token_ids": token_ids, "segment_ids": segment_ids,
            "padding_mask": padding_mask, "mask_positions": mask_positions}


def torch_mlm_logits(model, batch):
    """transformers AlbertForMaskedLM logits gathered at `mask_positions`."""
    import torch
    with torch.no_grad():
        out = model(input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
                    token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long))
    logits = out.logits.numpy()
    return np.take_along_axis(logits, batch["mask_positions"][:, :, None], axis=1)


def write_json(path, obj):
    Path(path).write_text(json.dumps(obj, indent=2))


def read_json(path):
    return json.loads(Path(path).read_text())
