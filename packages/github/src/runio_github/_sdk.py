"""PyGithub as this package uses it: the client factory and PyGithub objects turned into JSON.

``new_client`` builds the ``github.Github`` a task receives: PyGithub's own retries off (its
default ``GithubRetry`` re-sends POSTs, which would create an issue twice), no sleeps between
requests (runio's durable retries and rate-limit rules pace the calls), lazy objects (a wrapper
makes only the requests it needs), and one HTTP connection per thread: PyGithub keeps the
request being made in its connection object, so two threads sharing one ``Github`` could send
each other's requests, and a worker runs sync tasks on several threads at once.

This module imports PyGithub; runio's core never does. It knows nothing about runio's retries.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

try:
    import github
    from github.GithubObject import CompletableGithubObject, GithubObject
    from github.PaginatedList import PaginatedList
    from github.Requester import Requester
except ImportError as exc:  # pragma: no cover - the dependency is declared
    raise ImportError(
        "runio-github needs PyGithub 2.x: pip install 'PyGithub>=2.10,<3' "
        "(or reinstall runio-github)."
    ) from exc

DEFAULT_API_BASE = "https://api.github.com"
DEFAULT_TIMEOUT = 30
USER_AGENT = "runio-github"


class ThreadSafeGithub(github.Github):
    """``github.Github`` whose requests each thread makes over its own connection.

    PyGithub's connection objects hold the request in flight between sending it and reading
    the answer, so one ``Github`` shared by threads can mix their requests up. This subclass
    gives every thread its own ``Requester`` (same settings, same credentials); objects it
    creates (``get_repo(...)``...) use the requester of the thread that created them. Everything
    else is PyGithub's: a ``run_task`` function receives this and uses it as a ``Github``.
    """

    _requesters: dict[int, Requester]
    _template: Requester
    _local: threading.local
    _guard: threading.Lock

    @property
    def _Github__requester(self) -> Requester:
        requester: Requester | None = getattr(self._local, "requester", None)
        if requester is None:
            requester = Requester(**self._template.kwargs)
            self._local.requester = requester
            with self._guard:
                self._requesters[threading.get_ident()] = requester
        return requester

    @_Github__requester.setter
    def _Github__requester(self, value: Requester) -> None:
        # Github.__init__ assigns its Requester here: keep it as the template.
        self._template = value
        self._local = threading.local()
        self._local.requester = value
        self._guard = threading.Lock()
        self._requesters = {threading.get_ident(): value}

    def close(self) -> None:
        """Close every thread's connections."""
        with self._guard:
            requesters, self._requesters = list(self._requesters.values()), {}
        for requester in requesters:
            requester.close()
        self._local = threading.local()


def new_client(
    auth: github.Auth.Auth,
    *,
    base_url: str = DEFAULT_API_BASE,
    timeout: int = DEFAULT_TIMEOUT,
    per_page: int = 100,
) -> ThreadSafeGithub:
    """The ``github.Github`` runio's tasks use (see the module doc)."""
    return ThreadSafeGithub(
        auth=auth,
        base_url=base_url.rstrip("/"),
        timeout=int(timeout),
        user_agent=USER_AGENT,
        per_page=per_page,
        retry=None,  # runio's durable retries are the only retry layer
        seconds_between_requests=None,
        seconds_between_writes=None,
        lazy=True,
    )


def installation_auth(
    app_id: int | str, private_key: str, installation_id: int
) -> github.Auth.AppInstallationAuth:
    """Credentials of a GitHub App installation: PyGithub signs a JWT with the app's private
    key, exchanges it for an installation token and renews that token before it expires."""
    return github.Auth.AppAuth(app_id, private_key).get_installation_auth(int(installation_id))


def app_bot_login(app_id: int | str, private_key: str, *, base_url: str = DEFAULT_API_BASE) -> str:
    """The login of a GitHub App's bot user (``<slug>[bot]``), the author of what its
    installation tokens create (``GET /app`` with the app's JWT)."""
    integration = github.GithubIntegration(
        auth=github.Auth.AppAuth(app_id, private_key),
        base_url=base_url.rstrip("/"),
        retry=None,
        user_agent=USER_AGENT,
    )
    try:
        return f"{integration.get_app().slug}[bot]"
    finally:
        integration.close()


def as_json(value: Any, *, max_items: int | None = None) -> Any:
    """A PyGithub answer as plain JSON, for a ``run_task`` function's return value.

    A PyGithub object becomes GitHub's JSON for it (``obj.raw_data``; a lazy object is fetched
    first, an item of a list is taken as the list's page gave it); a ``PaginatedList`` becomes a
    list of them, following GitHub's pages (up to ``max_items`` when given); lists, tuples and
    dicts are converted item by item; datetimes become ISO 8601 text. Anything else is returned
    as it is.
    """
    if isinstance(value, CompletableGithubObject) and not value.completed:
        if set(value._rawData) <= {"url"}:  # a lazy reference (get_repo...): fetch it
            return value.raw_data
        # A list item: the page already holds GitHub's JSON for it, which ``raw_data`` would
        # fetch again, one request per item.
        return value._rawData
    if isinstance(value, GithubObject):
        return value.raw_data
    if isinstance(value, PaginatedList):
        items: list[Any] = []
        for item in value:
            if max_items is not None and len(items) >= max_items:
                break
            items.append(as_json(item))
        return items
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
