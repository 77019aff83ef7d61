"""Prometheus's API error types and the JSON envelope they travel in."""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    """`errorType` values of the Prometheus HTTP API, with their HTTP status codes below."""

    BAD_DATA = "bad_data"
    EXECUTION = "execution"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"


STATUS_CODES: dict[ErrorType, int] = {
    ErrorType.BAD_DATA: 400,
    ErrorType.EXECUTION: 422,
    ErrorType.TIMEOUT: 503,
    ErrorType.CANCELED: 503,
    ErrorType.INTERNAL: 500,
    ErrorType.UNAVAILABLE: 503,
    ErrorType.NOT_FOUND: 404,
}


class ApiError(Exception):
    """An error answered as `{"status":"error","errorType":...,"error":...}`."""

    def __init__(self, error_type: ErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    @property
    def status_code(self) -> int:
        """The HTTP status Prometheus uses for this error type."""
        return STATUS_CODES[self.error_type]


def bad_data(message: str) -> ApiError:
    """A 400 bad_data error."""
    return ApiError(ErrorType.BAD_DATA, message)


def invalid_param(name: str, reason: str) -> ApiError:
    """Prometheus's `invalid parameter "name": reason` (bad_data)."""
    return bad_data(f'invalid parameter "{name}": {reason}')
