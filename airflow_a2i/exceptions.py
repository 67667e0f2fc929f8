"""Errors this provider raises for users' mistakes, before any request is sent."""

from __future__ import annotations


class A2IValidationError(ValueError):
    """A parameter A2I would reject; the message says what is wrong and how to fix it."""
