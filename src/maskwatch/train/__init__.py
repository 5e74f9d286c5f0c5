"""Training the mask classifier (needs the `train` extra: pip install 'maskwatch[train]')."""
