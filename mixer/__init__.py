"""mixer: build LLM pretraining data mixtures and train on them."""

__version__ = "0.1.0"
