"""Errors the local service answers with, in the shape botocore parses for each protocol."""

from __future__ import annotations

# HTTP statuses of the A2I runtime's errors (rest-json protocol).
RUNTIME_ERROR_STATUS = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 402,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "ThrottlingException": 429,
    "InternalServerException": 500,
}


class ServiceError(Exception):
    """An AWS error response: ``code`` is the error shape's name, ``status`` its HTTP status."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else RUNTIME_ERROR_STATUS.get(code, 400)


def validation_error(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)
