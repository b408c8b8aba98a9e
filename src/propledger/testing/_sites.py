"""The data of a simulated Jira Cloud site: issues, users, projects, comments, properties."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from propledger.model import EntityType, JSONValue
from propledger.testing._tasks import FakeTask, TaskOptions

if TYPE_CHECKING:
    from propledger.testing._limits import Faults, RateLimit

__all__ = ["FakeComment", "FakeIssue", "FakeProject", "FakeSite", "FakeUser", "normalize_base_url"]

FIRST_ENTITY_ID = 10000
"""Jira Cloud numbers issues, projects and comments from 10000 in a new site."""

PropertyRow = tuple[str, str, str]
"""One stored property as ``(entity type, entity id, property key)``."""


@dataclasses.dataclass(eq=False, slots=True)
class FakeProject:
    """A project: numeric ``id``, upper-case ``key`` and its entity properties."""

    id: str
    key: str
    name: str
    properties: dict[str, JSONValue] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(eq=False, slots=True)
class FakeIssue:
    """An issue: numeric ``id``, a ``key`` such as ``DEMO-1`` and its entity properties."""

    id: str
    key: str
    project_id: str
    properties: dict[str, JSONValue] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(eq=False, slots=True)
class FakeComment:
    """A comment on an issue, with its entity properties.

    A comment on a hidden issue is hidden as well.
    """

    id: str
    issue_id: str
    properties: dict[str, JSONValue] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(eq=False, slots=True)
class FakeUser:
    """A user account: ``is_admin`` grants the Administer Jira global permission."""

    account_id: str
    display_name: str
    is_admin: bool = False
    email: str | None = None
    properties: dict[str, JSONValue] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class _ApiToken:
    token: str = dataclasses.field(repr=False)
    account_id: str


def normalize_base_url(base_url: str) -> str:
    """Return ``base_url`` without a trailing slash, or raise ``ValueError``.

    A site's base URL must be an absolute http or https URL with no path, query or
    fragment, because FakeJira serves its routes at the root of the host.
    """
    parts = urlsplit(base_url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"The site base URL {base_url!r} is not an absolute http or https URL. "
            "Give one such as 'https://acme.jira.test'."
        )
    if parts.path or parts.query or parts.fragment:
        raise ValueError(
            f"The site base URL {base_url!r} has a path, query or fragment. FakeJira serves "
            "sites at the root of their host; give only the scheme and host."
        )

    return f"{parts.scheme}://{parts.netloc}"


@dataclasses.dataclass(eq=False)
class FakeSite:
    """One simulated Jira Cloud site and the entities and properties it stores.

    ``shared_secret`` is ``None`` until the app is installed through
    :meth:`FakeJira.install`, and ``forge_system_token`` until the Forge app is
    installed through :meth:`FakeJira.forge_install`. The app cannot see issues in
    ``hidden_issue_ids`` nor their comments, so every call of the app about them gets
    a 404 response, as Jira returns for entities hidden from the caller. Users with an
    API token see them. A request that changes a property of a user in
    ``protected_account_ids`` gets a 403 response.

    ``deletions`` records each property the site actually deleted, in order, whether by
    a DELETE or by a bulk task, so a test can show that none was deleted twice.
    ``rate_limit`` and ``faults`` apply to every request to the site's REST API, and
    ``task_options`` to the tasks its bulk operations start.
    """

    base_url: str
    name: str
    app_key: str
    client_key: str = dataclasses.field(default_factory=lambda: f"jira:{uuid.uuid4()}")
    shared_secret: str | None = dataclasses.field(default=None, repr=False)
    cloud_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    forge_installation_id: str | None = None
    forge_system_token: str | None = dataclasses.field(default=None, repr=False)
    issues: dict[str, FakeIssue] = dataclasses.field(default_factory=dict, repr=False)
    users: dict[str, FakeUser] = dataclasses.field(default_factory=dict, repr=False)
    projects: dict[str, FakeProject] = dataclasses.field(default_factory=dict, repr=False)
    comments: dict[str, FakeComment] = dataclasses.field(default_factory=dict, repr=False)
    app_properties: dict[str, dict[str, JSONValue]] = dataclasses.field(
        default_factory=dict, repr=False
    )
    hidden_issue_ids: set[str] = dataclasses.field(default_factory=set, repr=False)
    protected_account_ids: set[str] = dataclasses.field(default_factory=set, repr=False)
    api_tokens: dict[str, _ApiToken] = dataclasses.field(default_factory=dict, repr=False)
    deletions: list[PropertyRow] = dataclasses.field(default_factory=list, repr=False)
    tasks: dict[str, FakeTask] = dataclasses.field(default_factory=dict, repr=False)
    task_options: TaskOptions = dataclasses.field(default_factory=TaskOptions, repr=False)
    rate_limit: RateLimit | None = dataclasses.field(default=None, repr=False)
    faults: Faults | None = dataclasses.field(default=None, repr=False)
    _ids: dict[str, Iterator[int]] = dataclasses.field(default_factory=dict, init=False, repr=False)
    _account_numbers: Iterator[int] = dataclasses.field(
        default_factory=lambda: itertools.count(1), init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.base_url = normalize_base_url(self.base_url)

    @property
    def netloc(self) -> str:
        """The host and port of the base URL, as a request's Host header names it."""
        return urlsplit(self.base_url).netloc.lower()

    @property
    def app_account_id(self) -> str:
        """The account id of the app's own user in this site."""
        return f"557058:{uuid.uuid5(uuid.NAMESPACE_URL, self.base_url + '/' + self.app_key)}"

    def _next_id(self, entity_type: EntityType) -> str:
        # Issues, projects and comments each have their own sequence, as in Jira.
        return str(self._next_number(entity_type.value, FIRST_ENTITY_ID))

    def _next_number(self, sequence: str, start: int) -> int:
        return next(self._ids.setdefault(sequence, itertools.count(start)))

    def add_project(self, key: str = "DEMO", *, name: str | None = None) -> FakeProject:
        """Create a project with the next free id; raise ``ValueError`` if ``key`` exists."""
        if self.find_project(key) is not None:
            raise ValueError(f"The site already has a project with key {key!r}. Use another key.")
        project = FakeProject(
            id=self._next_id(EntityType.PROJECT), key=key, name=name or f"Project {key}"
        )
        self.projects[project.id] = project

        return project

    def add_issue(self, project_key: str = "DEMO") -> FakeIssue:
        """Create an issue in a project, creating the project first if it does not exist."""
        project = self.find_project(project_key) or self.add_project(project_key)
        number = self._next_number(f"issue numbers of project {project.id}", 1)
        issue = FakeIssue(
            id=self._next_id(EntityType.ISSUE), key=f"{project.key}-{number}", project_id=project.id
        )
        self.issues[issue.id] = issue

        return issue

    def add_comment(self, issue: FakeIssue) -> FakeComment:
        """Create a comment on ``issue``."""
        comment = FakeComment(id=self._next_id(EntityType.COMMENT), issue_id=issue.id)
        self.comments[comment.id] = comment

        return comment

    def add_user(
        self,
        *,
        is_admin: bool = False,
        display_name: str | None = None,
        account_id: str | None = None,
        email: str | None = None,
    ) -> FakeUser:
        """Create a user; the account id defaults to a 24-character id like Jira's."""
        number = self._next_number("users", 1)
        user = FakeUser(
            account_id=account_id or f"5b10a2844c2016570{number:07d}",
            display_name=display_name or f"User {number}",
            is_admin=is_admin,
            email=email,
        )
        if user.account_id in self.users:
            raise ValueError(f"The site already has a user with account id {user.account_id!r}.")
        self.users[user.account_id] = user

        return user

    def add_api_token(self, email: str, token: str, account_id: str) -> None:
        """Register an API token: basic auth with ``email`` and ``token`` acts as that user."""
        if account_id not in self.users:
            raise ValueError(
                f"The site has no user with account id {account_id!r}. Call add_user() first."
            )
        self.api_tokens[email] = _ApiToken(token=token, account_id=account_id)

    def user_for_api_token(self, email: str, token: str) -> FakeUser | None:
        """Return the user a basic-auth email and API token act as, or ``None``."""
        api_token = self.api_tokens.get(email)
        if api_token is None or api_token.token != token:
            return None

        return self.users.get(api_token.account_id)

    def find_issue(self, id_or_key: str) -> FakeIssue | None:
        """Return the issue with this numeric id or issue key, hidden or not."""
        if id_or_key in self.issues:
            return self.issues[id_or_key]

        return next((issue for issue in self.issues.values() if issue.key == id_or_key), None)

    def find_project(self, id_or_key: str) -> FakeProject | None:
        """Return the project with this numeric id or project key."""
        if id_or_key in self.projects:
            return self.projects[id_or_key]
        matches = (project for project in self.projects.values() if project.key == id_or_key)

        return next(matches, None)

    def is_issue_hidden(self, issue_id: str) -> bool:
        """Return whether the app is denied every call about the issue with this id."""
        return issue_id in self.hidden_issue_ids

    def record_deletion(self, entity_type: EntityType, entity_id: str, key: str) -> None:
        """Note that the site deleted one property."""
        self.deletions.append((entity_type.value, entity_id, key))

    def add_task(
        self, *, api_version: str, description: str, submitted_by: str, work: Callable[[], None]
    ) -> FakeTask:
        """Start a task that does ``work`` as :attr:`task_options` direct, and return it."""
        task_id = str(self._next_number("tasks", FIRST_ENTITY_ID))
        options = self.task_options
        task = FakeTask(
            id=task_id,
            url=f"{self.base_url}/rest/api/{api_version}/task/{task_id}",
            description=description,
            submitted_by=submitted_by,
            work=work,
            running_polls=options.running_polls,
            fails=options.fail_next > 0,
        )
        options.fail_next = max(0, options.fail_next - 1)
        self.tasks[task_id] = task
        if task.running_polls == 0:
            task.execute()

        return task

    def properties(self) -> list[PropertyRow]:
        """Return every stored property as sorted ``(entity type, entity id, key)`` rows."""
        rows: list[PropertyRow] = []
        rows += _rows(EntityType.ISSUE, ((i.id, i.properties) for i in self.issues.values()))
        rows += _rows(EntityType.USER, ((u.account_id, u.properties) for u in self.users.values()))
        rows += _rows(EntityType.PROJECT, ((p.id, p.properties) for p in self.projects.values()))
        rows += _rows(EntityType.COMMENT, ((c.id, c.properties) for c in self.comments.values()))
        rows += _rows(EntityType.APP, self.app_properties.items())

        return sorted(rows)

    def property_count(self, prefixes: Iterable[str] = (), keys: Iterable[str] = ()) -> int:
        """Count the stored properties whose key has one of ``prefixes`` or is in ``keys``.

        With neither given, count every property in the site.
        """
        prefix_tuple = tuple(prefixes)
        key_set = frozenset(keys)
        if not prefix_tuple and not key_set:
            return len(self.properties())

        return sum(
            1 for _, _, key in self.properties() if key in key_set or key.startswith(prefix_tuple)
        )


def _rows(
    entity_type: EntityType, entities: Iterable[tuple[str, dict[str, JSONValue]]]
) -> list[PropertyRow]:
    return [(entity_type.value, entity_id, key) for entity_id, values in entities for key in values]
