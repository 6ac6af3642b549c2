"""Phase blends: token targets per source, repetition caps, deterministic interleaving, and their reader."""
