"""propledger's Starlette app: lifecycle callbacks, the removal API and the admin page."""

from propledger.web.app import create_app

__all__ = ["create_app"]
