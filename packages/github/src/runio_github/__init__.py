"""GitHub for runio: ``io.github`` task wrappers over PyGithub.

``GitHub`` is the integration (declare ``GitHub()`` in ``define_job(integrations=...)``, or just
set ``GITHUB_TOKEN``); ``GitHubAPIError`` is what its tasks fail with when GitHub answers with
an error; ``as_json`` turns PyGithub objects into the JSON a task returns. The models
``IssuesEvent``, ``IssueCommentEvent``, ``PushEvent``, ``PullRequestEvent``, ``ReleaseEvent``
(and ``GitHubEvent`` for any other) type the payloads of jobs started by GitHub's webhooks
(``github.on_issue_opened(repo="octo/hello")``...).
``runio_github.testing.FakeGitHub`` is the GitHub API as a local HTTP server, for tests.

The names are loaded on first use: every runio worker imports this package to discover the
plugin, and a worker whose jobs never call GitHub should not pay for importing PyGithub.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._errors import GitHubAPIError, classify_github_error
    from ._events import (
        Comment,
        Commit,
        CommitAuthor,
        GitHubEvent,
        Issue,
        IssueCommentEvent,
        IssuesEvent,
        Label,
        PullRequest,
        PullRequestEvent,
        PullRequestRef,
        PushEvent,
        Release,
        ReleaseEvent,
        Repository,
        User,
    )
    from ._integration import GitHub
    from ._sdk import DEFAULT_API_BASE, ThreadSafeGithub, as_json, new_client

__all__ = [
    "DEFAULT_API_BASE",
    "Comment",
    "Commit",
    "CommitAuthor",
    "GitHub",
    "GitHubAPIError",
    "GitHubEvent",
    "Issue",
    "IssueCommentEvent",
    "IssuesEvent",
    "Label",
    "PullRequest",
    "PullRequestEvent",
    "PullRequestRef",
    "PushEvent",
    "Release",
    "ReleaseEvent",
    "Repository",
    "ThreadSafeGithub",
    "User",
    "as_json",
    "classify_github_error",
    "new_client",
]

_WHERE = {
    "Comment": "._events",
    "Commit": "._events",
    "CommitAuthor": "._events",
    "GitHubEvent": "._events",
    "Issue": "._events",
    "IssueCommentEvent": "._events",
    "IssuesEvent": "._events",
    "Label": "._events",
    "PullRequest": "._events",
    "PullRequestEvent": "._events",
    "PullRequestRef": "._events",
    "PushEvent": "._events",
    "Release": "._events",
    "ReleaseEvent": "._events",
    "Repository": "._events",
    "User": "._events",
    "GitHubAPIError": "._errors",
    "classify_github_error": "._errors",
    "GitHub": "._integration",
    "DEFAULT_API_BASE": "._sdk",
    "ThreadSafeGithub": "._sdk",
    "as_json": "._sdk",
    "new_client": "._sdk",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'runio_github' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
