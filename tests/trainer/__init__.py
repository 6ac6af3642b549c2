"""Tests of mixer.trainer (CPU only, torch and numpy)."""
