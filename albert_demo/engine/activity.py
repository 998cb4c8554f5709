"""When predictions were last served: the signal a fine-tuning run reads to yield the CPU
while people are waiting for answers.

One object is made at start (`app.py`) and handed both to the model cache (its predictors
`mark()` each forward pass) and to fine-tuning (which asks `busy()` after each step).

Example:
```python
activity = ServingActivity()
cache = ModelCache(activity=activity)            # predictors mark it on every request
FinetuneService(data_dir, models=cache, serving=activity)
activity.busy()                                  # True within a second of a request
```
"""

import time


class ServingActivity:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self.last_request = float("-inf")

    def mark(self):
        """A prediction is being served now."""
        self.last_request = self._clock()

    def busy(self, within=1.0):
        """Whether a prediction was served in the last `within` seconds."""
        return self._clock() - self.last_request < within
