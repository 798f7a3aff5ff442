"""Talking to Reddit: a script app's OAuth token, kept between calls, and the API calls.

A script app signs in with the password grant: `POST {auth_base}/api/v1/
access_token` with HTTP Basic (client id and secret) and the account's user
name and password. The bearer token lasts a day (`expires_in`); it is kept
with `connectors.sessions`, shared by every source and sender of the same
app and account, renewed shortly before it expires and whenever the API
answers 401. Every request carries the descriptive User-Agent Reddit asks
for (it throttles generic ones).

Errors are `ConnectorError`s (see `connectors.http`): 429 and 5xx are
transient with the wait the rate-limit headers name, 403 and 404 permanent.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from hubbub.connectors import http
from hubbub.connectors.base import (
    AuthenticationFailed,
    ConnectorError,
    RateBudget,
    SourceConfig,
)
from hubbub.connectors.sessions import forget_session, load_session, save_session, session_key
from hubbub.core import clock, safe_http

PLATFORM = "Reddit"
AUTH_BASE = "https://www.reddit.com"
API_BASE = "https://oauth.reddit.com"
VERSION = "0.1"
# Renew a token this long before Reddit says it expires: a call must not start with a dying one.
RENEW_MARGIN_SECONDS = 120.0
DEFAULT_TOKEN_SECONDS = 3600.0
CREDENTIAL_FIELDS = ("client_id", "client_secret", "username", "password")


@dataclass(frozen=True, slots=True)
class Login:
    """A script app and the account it acts as."""

    client_id: str
    client_secret: str
    username: str
    password: str
    auth_base: str = AUTH_BASE
    api_base: str = API_BASE

    @classmethod
    def of_source(cls, config: SourceConfig) -> Login:
        """From a source's credentials and its `auth_base` / `api_base` settings."""
        return cls.of_values(
            config.credentials,
            auth_base=config.setting("auth_base") or AUTH_BASE,
            api_base=config.setting("api_base") or API_BASE,
        )

    @classmethod
    def of_secret(cls, secret: str, *, base_url: str) -> Login:
        """From an account's secret: the four values (and maybe `auth_base`) as JSON."""
        try:
            values = json.loads(secret)
        except ValueError:
            values = None
        if not isinstance(values, dict):
            raise ConnectorError(
                "The Reddit account's secret must be a JSON object with client_id, "
                "client_secret, username and password.",
                transient=False,
                code="settings",
            )
        auth_base = values.get("auth_base")
        return cls.of_values(
            {str(k): str(v) for k, v in values.items() if v is not None},
            auth_base=auth_base if isinstance(auth_base, str) and auth_base else AUTH_BASE,
            api_base=base_url or API_BASE,
        )

    @classmethod
    def of_values(cls, values: dict[str, str], *, auth_base: str, api_base: str) -> Login:
        missing = [name for name in CREDENTIAL_FIELDS if not values.get(name, "").strip()]
        if missing:
            raise AuthenticationFailed(
                "The Reddit credentials lack " + ", ".join(missing) + ". Enter them again."
            )
        return cls(
            client_id=values["client_id"].strip(),
            client_secret=values["client_secret"].strip(),
            username=values["username"].strip().removeprefix("/u/").removeprefix("u/"),
            password=values["password"],
            auth_base=auth_base.rstrip("/"),
            api_base=api_base.rstrip("/"),
        )

    @property
    def user_agent(self) -> str:
        # Reddit's rule: <platform>:<app ID>:<version> (by /u/<reddit username>).
        return f"python:hubbub:{VERSION} (by /u/{self.username})"

    @property
    def token_key(self) -> str:
        # The token goes to api_base: both addresses and the secrets are part of the key.
        return session_key(
            "reddit",
            f"{self.auth_base}|{self.api_base}",
            f"{self.client_id}:{self.username}",
            secret=f"{self.client_secret}:{self.password}",
        )


class RedditClient:
    """Authenticated calls to the API; remembers the last rate-limit budget Reddit reported."""

    def __init__(self, login: Login) -> None:
        self.login = login
        self.budget: RateBudget | None = None
        self._token = ""  # the token this client used last, so one poll reads the session once

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `path` with `raw_json=1` (text as written, not HTML-escaped); the JSON body."""
        url = http.url_with(self.login.api_base, path, {**(params or {}), "raw_json": 1})
        return self._call("GET", url, None)

    def post(self, path: str, form: dict[str, str]) -> Any:
        """POST a form to `path`; the JSON body (200, or 400 with Reddit's error object).

        A 400 is returned, not raised: write endpoints explain refusals in the
        body, and `parse.api_errors` reads both of Reddit's shapes.
        """
        return self._call("POST", http.url_with(self.login.api_base, path), form)

    def _call(self, method: str, url: str, form: dict[str, str] | None) -> Any:
        response = self._send(method, url, form, self.token())
        if response.status_code == 401:
            # An expired or revoked token: one new token, one more try. A 401 means the
            # request was not carried out, so repeating a POST cannot post twice.
            forget_session(self.login.token_key)
            self._token = ""
            response = self._send(method, url, form, self.token())
            if response.status_code == 401:
                raise AuthenticationFailed(
                    f"Reddit refused a fresh token for u/{self.login.username} (401)."
                )
        self._note_budget(response)
        status = response.status_code
        if status == 403:
            raise ConnectorError(
                f"Reddit does not let u/{self.login.username} do that (403 on "
                f"{_path(url)}): a private or banned community, or a missing scope.",
                transient=False,
                code="forbidden",
            )
        if status == 404:
            raise ConnectorError(
                f"Reddit has nothing at {_path(url)} (404).", transient=False, code="not_found"
            )
        if status == 400 and method == "GET":
            raise ConnectorError(
                f"Reddit refused the request ({_path(url)}): {reddit_error_text(response)}",
                transient=False,
                code="refused",
            )
        return http.json_of(response, platform=PLATFORM)

    def _send(
        self, method: str, url: str, form: dict[str, str] | None, token: str
    ) -> safe_http.SafeResponse:
        headers = {"Authorization": f"bearer {token}", "User-Agent": self.login.user_agent}
        return http.call(
            method, url, platform=PLATFORM, headers=headers, data=form, ok=(200, 400, 401, 403, 404)
        )

    def _note_budget(self, response: safe_http.SafeResponse) -> None:
        budget = http.budget_of(response)
        if budget.remaining is not None:
            self.budget = budget

    def token(self) -> str:
        """A bearer token that is good for a while: the kept one, else a new one."""
        if not self._token:
            self._token = self._kept_or_new_token()
        return self._token

    def _kept_or_new_token(self) -> str:
        kept = load_session(self.login.token_key)
        now = clock.now().timestamp()
        if kept is not None:
            token, expires_at = kept.get("access_token"), kept.get("expires_at")
            if (
                isinstance(token, str)
                and token
                and isinstance(expires_at, int | float)
                and expires_at - RENEW_MARGIN_SECONDS > now
            ):
                return token
        return self._new_token(now)

    def _new_token(self, now: float) -> str:
        login = self.login
        basic = base64.b64encode(f"{login.client_id}:{login.client_secret}".encode()).decode()
        response = http.call(
            "POST",
            login.auth_base + "/api/v1/access_token",
            platform=PLATFORM,
            headers={"Authorization": f"Basic {basic}", "User-Agent": login.user_agent},
            data={"grant_type": "password", "username": login.username, "password": login.password},
            ok=(200, 401),
        )
        if response.status_code == 401:
            raise AuthenticationFailed(
                "Reddit refused the app's client id or secret (401). Check the script app "
                "at reddit.com/prefs/apps and enter them again."
            )
        body = http.json_of(response, platform=PLATFORM)
        if not isinstance(body, dict):
            raise ConnectorError(
                "Reddit answered the sign-in with something unexpected.",
                transient=True,
                code="malformed",
            )
        error = body.get("error")
        if error is not None:
            # Reddit refuses a wrong user name or password with 200 and {"error": "invalid_grant"}.
            if error == "invalid_grant":
                raise AuthenticationFailed(
                    f"Reddit refused the user name or password of u/{login.username} "
                    "(invalid_grant). Accounts with two-factor sign-in cannot use a script app."
                )
            raise AuthenticationFailed(f"Reddit refused to sign in: {str(error)[:200]}")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ConnectorError(
                "Reddit's sign-in answer had no access token.", transient=True, code="malformed"
            )
        lifetime = body.get("expires_in")
        seconds = (
            float(lifetime)
            if isinstance(lifetime, int | float) and not isinstance(lifetime, bool)
            else DEFAULT_TOKEN_SECONDS
        )
        save_session(
            login.token_key,
            {"access_token": token, "expires_at": now + seconds, "scope": body.get("scope", "")},
        )
        return token


def reddit_error_text(response: safe_http.SafeResponse) -> str:
    """Reddit's explanation in a refusal: `{"reason", "explanation"}`, else the usual shapes."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        reason, explanation = body.get("reason"), body.get("explanation")
        if isinstance(explanation, str) and explanation:
            return f"{explanation} ({reason})" if isinstance(reason, str) else explanation
    return http.error_text(response)


def _path(url: str) -> str:
    """The path of an API URL, for messages (no query string, no host)."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
