"""FakeJira, a simulated Jira Cloud for tests, and a helper that serves ASGI apps.

FakeJira serves the property, bulk property, task, permission and user routes of the
Jira Cloud REST API with Jira's status codes and JSON shapes, checks Connect JWTs and
API tokens, and sends the app signed lifecycle callbacks. A site can be rate-limited
(:class:`RateLimit`) and made to fail (:class:`Faults`).
"""

from propledger.testing._jira import FakeJira, LoggedRequest
from propledger.testing._limits import DroppedConnection, Faults, RateLimit
from propledger.testing._recording import RecordingTransport
from propledger.testing._server import serve
from propledger.testing._sites import FakeComment, FakeIssue, FakeProject, FakeSite, FakeUser
from propledger.testing._tasks import FakeTask, TaskOptions

__all__ = [
    "DroppedConnection",
    "FakeComment",
    "FakeIssue",
    "FakeJira",
    "FakeProject",
    "FakeSite",
    "FakeTask",
    "FakeUser",
    "Faults",
    "LoggedRequest",
    "RateLimit",
    "RecordingTransport",
    "TaskOptions",
    "serve",
]
