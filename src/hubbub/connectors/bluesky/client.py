"""One signed-in XRPC client for a Bluesky account: what poll, check, send and
fetch_profile all use.

Sessions come from an app password (`com.atproto.server.createSession`) and
are kept encrypted with `connectors.sessions`, so that a restart or another
worker reuses them. createSession is rate-limited hard (30 per 5 minutes,
300 a day per account), so an expired access token is renewed with
`com.atproto.server.refreshSession` (the refresh token as the bearer), and a
new session is created only when the refresh is refused.

XRPC errors are JSON `{"error": "<Name>", "message": "…"}`, mostly with
status 400; an expired access token is `ExpiredToken` (400, or 401 from
some servers). `XrpcError` keeps the error name so that callers can tell
"record not found" from "messages disabled".
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from typing import Any

from hubbub.connectors import http
from hubbub.connectors.base import AuthenticationFailed, ConnectorError, RateBudget
from hubbub.connectors.sessions import forget_session, load_session, save_session, session_key
from hubbub.core import safe_http

PLATFORM = "Bluesky"
DEFAULT_SERVICE = "https://bsky.social"
# Direct messages live on Bluesky's chat service; the PDS forwards calls there.
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"

# Statuses whose XRPC error body the client reads itself; http.call turns the rest
# (429, 5xx, 403, other 4xx) into ConnectorErrors.
_READ_ERRORS = (200, 400, 401)
# Errors that mean "this token will not do": renew the session and try once more.
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})


class XrpcError(ConnectorError):
    """An XRPC error answer; `error` is its name ("RecordNotFound", "MessagesDisabled"…)."""

    def __init__(self, error: str, message: str, *, status: int) -> None:
        text = f"{error}: {message}" if message else error
        super().__init__(
            f"Bluesky refused the request ({status}): {text}", transient=False, code=error
        )
        self.error = error
        self.status = status
        self.detail = message


@dataclass(frozen=True, slots=True)
class Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str

    def to_json(self) -> dict[str, str]:
        return {
            "did": self.did,
            "handle": self.handle,
            "accessJwt": self.access_jwt,
            "refreshJwt": self.refresh_jwt,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session | None:
        """The session in a createSession/refreshSession answer or a stored copy, if complete."""
        values = [data.get(name) for name in ("did", "handle", "accessJwt", "refreshJwt")]
        if not all(isinstance(value, str) and value for value in values):
            return None
        did, handle, access, refresh = (str(value) for value in values)
        return cls(did=did, handle=handle, access_jwt=access, refresh_jwt=refresh)


def credentials_from_secret(secret: str) -> tuple[str, str]:
    """(identifier, app password) from an Account's secret, a JSON object.

    Raises AuthenticationFailed when it is not one: a person must enter it again.
    """
    try:
        value = jsonlib.loads(secret or "")
    except ValueError:
        value = None
    if isinstance(value, dict):
        identifier, password = value.get("identifier"), value.get("app_password")
        if isinstance(identifier, str) and identifier and isinstance(password, str) and password:
            return identifier, password
    raise AuthenticationFailed(
        "The Bluesky account needs its handle and an app password; enter them again."
    )


class Client:
    """XRPC calls as one account, on one service (the PDS or the bsky.social entryway).

    Not thread-safe: make one per thread or job. `budget` is the rate-limit
    budget from the latest answer that carried one.
    """

    def __init__(self, *, service: str, identifier: str, app_password: str) -> None:
        if not identifier or not app_password:
            raise AuthenticationFailed(
                "The Bluesky source needs an identifier (handle or DID) and an app password."
            )
        self.service = (service or DEFAULT_SERVICE).rstrip("/")
        self.identifier = identifier.lstrip("@")
        self._password = app_password
        self._key = session_key("bluesky", self.service, self.identifier, secret=app_password)
        self._session: Session | None = None
        self.budget: RateBudget | None = None

    # --- the account ---------------------------------------------------------

    @property
    def session(self) -> Session:
        """The current session: the stored one, else a new one."""
        if self._session is None:
            stored = load_session(self._key)
            self._session = Session.from_json(stored) if stored else None
        if self._session is None:
            self._session = self._create_session()
        return self._session

    @property
    def did(self) -> str:
        return self.session.did

    @property
    def handle(self) -> str:
        return self.session.handle

    def verify(self) -> Session:
        """Ask the server who the session belongs to (renewing it if it expired)."""
        body = self.get("com.atproto.server.getSession")
        session = self.session
        handle = body.get("handle")
        if isinstance(handle, str) and handle and handle != session.handle:
            # Handles change; the DID does not. Keep the one the server names now.
            session = Session(session.did, handle, session.access_jwt, session.refresh_jwt)
            self._keep(session)
        return session

    # --- calls -----------------------------------------------------------------

    def get(self, nsid: str, params: dict[str, Any] | None = None, *, proxy: str = "") -> Any:
        """A query (GET); the answer's JSON. Raises ConnectorError / XrpcError."""
        return self._call("GET", nsid, params=params, proxy=proxy)

    def post(self, nsid: str, body: dict[str, Any], *, proxy: str = "") -> Any:
        """A procedure (POST with a JSON body); the answer's JSON."""
        return self._call("POST", nsid, body=body, proxy=proxy)

    def _call(
        self,
        method: str,
        nsid: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        proxy: str = "",
    ) -> Any:
        session = self.session
        response = self._send(method, nsid, session.access_jwt, params, body, proxy)
        if _xrpc_error(response) in _TOKEN_ERRORS and not _scope_refusal(response):
            session = self._renew(session)
            response = self._send(method, nsid, session.access_jwt, params, body, proxy)
        return self._answer(response)

    def _send(
        self,
        method: str,
        nsid: str,
        token: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        proxy: str,
    ) -> safe_http.SafeResponse:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if proxy:
            headers["atproto-proxy"] = proxy
        response = http.call(
            method,
            http.url_with(self.service, f"/xrpc/{nsid}", params),
            platform=PLATFORM,
            headers=headers,
            json=body,
            ok=_READ_ERRORS,
        )
        budget = http.budget_of(response)
        if budget.remaining is not None:
            self.budget = budget
        return response

    def _answer(self, response: safe_http.SafeResponse) -> Any:
        if response.status_code != 200:
            raise _error_of(response)
        return http.json_of(response, platform=PLATFORM)

    # --- sessions --------------------------------------------------------------

    def _create_session(self) -> Session:
        response = http.call(
            "POST",
            f"{self.service}/xrpc/com.atproto.server.createSession",
            platform=PLATFORM,
            json={"identifier": self.identifier, "password": self._password},
            ok=_READ_ERRORS,
        )
        if response.status_code == 401 or _xrpc_error(response) == "AuthenticationRequired":
            forget_session(self._key)
            raise AuthenticationFailed(
                f"Bluesky refused the identifier {self.identifier!r} or its app password "
                f"({http.error_text(response)}). Enter them again."
            )
        if _xrpc_error(response) == "AuthFactorTokenRequired":
            raise AuthenticationFailed(
                "Bluesky asks for an emailed sign-in code: use an app password, not the "
                "account's main password."
            )
        return self._session_from(response)

    def _renew(self, expired: Session) -> Session:
        """A fresh session from the refresh token; a new one only if the refresh is refused.

        Transient failures (429, 5xx, no answer) propagate: creating sessions is
        rate-limited more strictly than refreshing them.
        """
        try:
            response = http.call(
                "POST",
                f"{self.service}/xrpc/com.atproto.server.refreshSession",
                platform=PLATFORM,
                headers={"Authorization": f"Bearer {expired.refresh_jwt}"},
                ok=_READ_ERRORS,
            )
            if response.status_code == 200:
                return self._session_from(response)
        except ConnectorError as error:
            if error.transient:
                raise
        self._session = None
        forget_session(self._key)
        self._session = self._create_session()
        return self._session

    def _session_from(self, response: safe_http.SafeResponse) -> Session:
        if response.status_code != 200:
            raise _error_of(response)
        body = http.json_of(response, platform=PLATFORM)
        session = Session.from_json(body) if isinstance(body, dict) else None
        if session is None:
            raise ConnectorError(
                "Bluesky answered the sign-in without tokens.", transient=True, code="malformed"
            )
        self._keep(session)
        return session

    def _keep(self, session: Session) -> None:
        self._session = session
        save_session(self._key, session.to_json())


def _error_body(response: safe_http.SafeResponse) -> dict[str, Any]:
    try:
        body = jsonlib.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _xrpc_error(response: safe_http.SafeResponse) -> str:
    if response.status_code == 200:
        return ""
    name = _error_body(response).get("error")
    return name if isinstance(name, str) else ""


def _scope_refusal(response: safe_http.SafeResponse) -> bool:
    """InvalidToken "Bad token scope" / "Bad token method": the app password lacks a
    permission (direct messages); a new session would have the same."""
    message = _error_body(response).get("message")
    return isinstance(message, str) and message.lower().startswith("bad token")


def _error_of(response: safe_http.SafeResponse) -> ConnectorError:
    """The error a 400/401 answer stands for."""
    name = _xrpc_error(response) or "InvalidRequest"
    message = _error_body(response).get("message")
    detail = message[:300] if isinstance(message, str) else ""
    if _scope_refusal(response):
        return AuthenticationFailed(
            "The Bluesky app password may not do this "
            f"({detail}): create one with access to direct messages."
        )
    if response.status_code == 401 or name in _TOKEN_ERRORS:
        return AuthenticationFailed(
            f"Bluesky refused the session ({name}: {detail}). Enter the app password again."
        )
    return XrpcError(name, detail, status=response.status_code)
