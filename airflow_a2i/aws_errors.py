"""AWS error codes the package reacts to, and how to read one from an error. Pure: imports no botocore."""

from __future__ import annotations

# What the services answer when a caller goes too fast: a wait backs off and looks again.
THROTTLING_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})
# Retryable errors of each API (from the botocore models); everything else is the caller's mistake.
A2I_RETRYABLE = THROTTLING_CODES | {"ServiceQuotaExceededException", "InternalServerException"}
TEXTRACT_RETRYABLE = THROTTLING_CODES | {"ProvisionedThroughputExceededException",
                                         "HumanLoopQuotaExceededException", "InternalServerError"}
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "ResourceNotFound"})
S3_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for any other exception)."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def is_throttling(error: BaseException) -> bool:
    return error_code(error) in THROTTLING_CODES
