"""Data parallelism with `keras.distribution` when more than one JAX device is present.

Keras keeps the distribution in thread-local state, so a training thread that enters
`training_distribution(...)` changes nothing for threads serving predictions.

Example:
```python
with training_distribution(batch_size=8) as distribution:   # None on one device
    masked_lm = AlbertMaskedLM.from_preset("albert_tiny_en_uncased")
    masked_lm.fit(texts, batch_size=8)
```
"""

import contextlib

from albert_demo import settings


def data_parallel_enabled():
    """On by default; `ALBERT_DEMO_DATA_PARALLEL=0` turns it off."""
    return settings.current().data_parallel


def make_distribution(batch_size, enabled=None):
    """A `DataParallel` over every device, or None on one device / when turned off."""
    import jax
    import keras
    enabled = data_parallel_enabled() if enabled is None else enabled
    devices = jax.devices()
    if not enabled or len(devices) < 2:
        return None
    if batch_size % len(devices):
        raise ValueError(f"Batch size {batch_size} does not split over {len(devices)} "
                         f"devices; use a multiple of {len(devices)}.")
    return keras.distribution.DataParallel(devices=devices)


@contextlib.contextmanager
def training_distribution(batch_size, enabled=None):
    """Build and train the model inside this block; yields the distribution (or None)."""
    distribution = make_distribution(batch_size, enabled)
    if distribution is None:
        yield None
        return
    with distribution.scope():
        yield distribution
