"""Helpers for the fine-tuning tests (importable as `finetune_helpers`): a tiny random
preset with the embedded tokenizer, and a small generated domain corpus that a model can
learn in a few dozen steps."""

import random

SUBJECTS = ["the court", "the judge", "the jury", "the lawyer", "the clerk"]
VERBS = ["dismissed", "heard", "reviewed", "appealed", "granted"]
OBJECTS = ["the case", "the motion", "the claim", "the verdict", "the petition"]
DAYS = ["monday", "tuesday", "friday"]


def domain_sentences(count, seed=0):
    """Repetitive legal-domain sentences, e.g. 'the court heard the motion on monday.'"""
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} on "
            f"{rng.choice(DAYS)}." for _ in range(count)]


def write_tiny_preset(folder, seed=0):
    """2 layers, hidden 32, the embedded preset's 16k tokenizer, random weights."""
    import keras

    from albert_demo import (AlbertBackbone, AlbertMaskedLM, AlbertMaskedLMPreprocessor,
                             AlbertTokenizer)
    keras.utils.set_random_seed(seed)
    tokenizer = AlbertTokenizer.from_preset("albert_tiny_en_uncased")
    backbone = AlbertBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=2,
                              num_heads=2, embedding_dim=16, hidden_dim=32,
                              intermediate_dim=64, max_sequence_length=64)
    model = AlbertMaskedLM(backbone, preprocessor=AlbertMaskedLMPreprocessor(
        tokenizer, sequence_length=32))
    model.save_to_preset(folder)
    return folder


def fast_settings(tiny_preset, **overrides):
    """Settings that make the tiny model learn quickly on the domain corpus."""
    from albert_demo.finetune import FinetuneSettings
    values = dict(name="legal", base_preset=tiny_preset, steps=40, learning_rate=3e-3,
                  sequence_length=32, checkpoint_every=0)
    values.update(overrides)
    return FinetuneSettings(**values)
