"""The trainer: a GPT (`model`) and its learning-rate schedules (`schedule`), read from mixer's on-disk shards.

Imports need torch and numpy only: GPU machines often lack the build stack (datatrove, tokenizers, pydantic).
"""
