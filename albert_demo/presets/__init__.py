"""Finding, downloading, reading and writing ALBERT presets (keras-hub and HF layouts)."""
