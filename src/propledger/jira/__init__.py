"""The Jira REST client: authentication, retries and the entity property endpoints."""

from propledger.jira._auth import ConnectAuth, basic_auth
from propledger.jira._bulk import (
    TaskPolling,
    TaskStatus,
    bulk_delete_issue_property,
    get_task,
    wait_for_task,
)
from propledger.jira._client import JiraClient
from propledger.jira._directory import search_projects, search_users
from propledger.jira._endpoints import property_keys_request, property_request
from propledger.jira._rate import RateController
from propledger.jira._retry import RetryPolicy
from propledger.jira._search import SEARCH_PATH, count_issues, search_issues

__all__ = [
    "SEARCH_PATH",
    "ConnectAuth",
    "JiraClient",
    "RateController",
    "RetryPolicy",
    "TaskPolling",
    "TaskStatus",
    "basic_auth",
    "bulk_delete_issue_property",
    "count_issues",
    "get_task",
    "property_keys_request",
    "property_request",
    "search_issues",
    "search_projects",
    "search_users",
    "wait_for_task",
]
