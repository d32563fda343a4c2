"""Decoder tests: ``decoder_kind`` runs a test on the native decoder and on the Python one."""

from decoders import decoder_kind

__all__ = ["decoder_kind"]
