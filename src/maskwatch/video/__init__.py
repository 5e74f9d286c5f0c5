"""Video: sources -> step (detect, classify, track) -> counters -> outputs, per camera."""
