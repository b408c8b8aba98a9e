"""The demo command: the whole story on 127.0.0.1, ending with one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_json_last_line():
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "propledger",
            "demo",
            "--json",
            "--issues",
            "20",
            "--users",
            "4",
            "--app-properties",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    # With --json, stdout holds only the JSON line; progress goes to stderr.
    result = json.loads(completed.stdout)
    assert result["properties_written"] == 26
    assert result["inventory_rows"] == 26
    assert result["removal_state"] == "completed"
    assert result["properties_remaining_in_site"] == 0
    # 26 PUTs; one bulk task for the 20 issue properties (submit, poll, and the search
    # that checks which issues the app can see); 6 DELETEs; and one admin check, whose
    # answer the status polls reuse.
    assert result["requests_sent"] == 26 + 3 + 6 + 1
