"""What a call to an upstream server can raise, beside a result.

    ReconcilerError
    ├── RpcError                    the server (or a client answering it) returned a
    │                               JSON-RPC error: code, message and data kept unchanged
    └── ServerError (transient)
        ├── ServerUnavailable       no connection, or it closed before the answer came
        └── RequestTimedOut         no answer within the timeout (the server was told to
                                    stop with notifications/cancelled)

`RpcError` is an answer, not a failure of the server: the gateway passes it to its
client as it is. A `MessageSink` raises it too, to answer a server's request with an error.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ReconcilerError, ServerError

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603


class RpcError(ReconcilerError):
    """A JSON-RPC error object, as the other side sent it."""

    reason = "RequestFailed"

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data

    @classmethod
    def from_wire(cls, error: object) -> RpcError:
        """Build from the `error` member of a response, however malformed."""
        if not isinstance(error, dict):
            return cls(INTERNAL_ERROR, f"malformed JSON-RPC error: {error!r:.200}")
        code = error.get("code")
        message = error.get("message")
        return cls(
            code if isinstance(code, int) and not isinstance(code, bool) else INTERNAL_ERROR,
            message if isinstance(message, str) else "",
            error.get("data"),
        )

    def to_wire(self) -> dict[str, Any]:
        """The `error` member of a JSON-RPC response."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error

    def __repr__(self) -> str:
        return f"RpcError(code={self.code}, message={self.message!r}, data={self.data!r})"


class ServerUnavailable(ServerError):
    """The server is not connected, or went away while a call waited for its answer."""

    reason = "ServerUnavailable"


class RequestTimedOut(ServerError):
    """The server did not answer in time; it was sent notifications/cancelled."""

    reason = "RequestTimedOut"
