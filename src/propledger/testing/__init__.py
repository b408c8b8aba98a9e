"""FakeJira, a simulated Jira Cloud for tests, and a helper that serves ASGI apps.

FakeJira serves the property, permission and user routes of the Jira Cloud REST API
with Jira's status codes and JSON shapes, checks Connect JWTs and API tokens, and
sends the app signed lifecycle callbacks.
"""

from propledger.testing._jira import FakeJira, LoggedRequest
from propledger.testing._server import serve
from propledger.testing._sites import FakeComment, FakeIssue, FakeProject, FakeSite, FakeUser

__all__ = [
    "FakeComment",
    "FakeIssue",
    "FakeJira",
    "FakeProject",
    "FakeSite",
    "FakeUser",
    "LoggedRequest",
    "serve",
]
