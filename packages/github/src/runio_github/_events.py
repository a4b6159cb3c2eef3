"""Typed payloads of GitHub's webhook events: what a job triggered by ``github.on_...`` receives.

Lenient by design: each model types the fields jobs reach for and keeps every other field GitHub
sent (``extra="allow"``: ``payload.model_extra``, or the raw event in ``ctx.event.payload``).
Fields GitHub may omit or send as null are optional. This module imports pydantic only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Comment",
    "Commit",
    "CommitAuthor",
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
    "User",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class User(_Model):
    """A user or bot (``sender``, ``issue.user``...)."""

    login: str
    id: int | None = None
    type: str | None = None
    """``User``, ``Bot`` or ``Organization``."""
    html_url: str | None = None


class Repository(_Model):
    """The repository an event happened in."""

    full_name: str
    """``owner/name``."""
    name: str | None = None
    id: int | None = None
    owner: User | None = None
    private: bool | None = None
    html_url: str | None = None
    default_branch: str | None = None


class Label(_Model):
    name: str
    color: str | None = None


class Issue(_Model):
    """An issue (or a pull request seen as an issue: then ``pull_request`` is set)."""

    number: int
    title: str
    body: str | None = None
    state: str | None = None
    """``open`` or ``closed``."""
    user: User | None = None
    labels: list[Label] = []
    assignees: list[User] = []
    html_url: str | None = None
    url: str | None = None
    pull_request: dict[str, Any] | None = None
    """Present when the issue is a pull request."""


class Comment(_Model):
    """A comment on an issue or pull request."""

    id: int
    body: str | None = None
    user: User | None = None
    html_url: str | None = None


class PullRequestRef(_Model):
    """One side of a pull request: ``head`` (the changes) or ``base`` (where they go)."""

    ref: str
    """The branch name."""
    sha: str | None = None
    label: str | None = None


class PullRequest(_Model):
    number: int
    title: str
    body: str | None = None
    state: str | None = None
    draft: bool | None = None
    merged: bool | None = None
    user: User | None = None
    head: PullRequestRef | None = None
    base: PullRequestRef | None = None
    html_url: str | None = None


class Release(_Model):
    id: int
    tag_name: str
    name: str | None = None
    body: str | None = None
    draft: bool | None = None
    prerelease: bool | None = None
    author: User | None = None
    html_url: str | None = None


class CommitAuthor(_Model):
    name: str | None = None
    email: str | None = None
    username: str | None = None


class Commit(_Model):
    """A commit of a push."""

    id: str
    """Its sha."""
    message: str | None = None
    author: CommitAuthor | None = None
    url: str | None = None


class GitHubEvent(_Model):
    """Any event of a repository's webhook: what every other payload model extends. Use it as
    ``schema=`` of ``github.on_event`` for an event without a model of its own."""

    action: str | None = None
    """What happened (``opened``, ``created``...); events such as ``push`` have none."""
    repository: Repository | None = None
    sender: User | None = None


class IssuesEvent(GitHubEvent):
    """``issues``: an issue opened, edited, closed, labeled...  (``github.on_issue_opened``)."""

    action: str
    issue: Issue
    repository: Repository


class IssueCommentEvent(GitHubEvent):
    """``issue_comment``: a comment created, edited or deleted on an issue or pull request
    (``github.on_issue_comment``)."""

    action: str
    issue: Issue
    comment: Comment
    repository: Repository


class PushEvent(GitHubEvent):
    """``push``: commits pushed to a branch or tag (``github.on_push``)."""

    ref: str
    """``refs/heads/<branch>`` or ``refs/tags/<tag>``."""
    before: str | None = None
    after: str | None = None
    created: bool | None = None
    deleted: bool | None = None
    forced: bool | None = None
    commits: list[Commit] = []
    head_commit: Commit | None = None
    pusher: CommitAuthor | None = None
    repository: Repository

    @property
    def branch(self) -> str | None:
        """The branch pushed to (``main``), or None for a tag."""
        prefix = "refs/heads/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None


class PullRequestEvent(GitHubEvent):
    """``pull_request``: a pull request opened, closed (``pull_request.merged`` says whether it
    was merged), synchronized... (``github.on_pull_request``)."""

    action: str
    number: int
    pull_request: PullRequest
    repository: Repository


class ReleaseEvent(GitHubEvent):
    """``release``: a release created, published, edited... (``github.on_release_published``)."""

    action: str
    release: Release
    repository: Repository
