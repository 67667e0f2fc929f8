"""A worker's side of the portal over plain HTTP (cookies, CSRF tokens, forms), for tests without a browser."""

from __future__ import annotations

import re
from html import unescape

import requests

from airflow_a2i.local.admin_client import AdminClient

CSRF_META = re.compile(r'<meta name="a2i-csrf" content="([^"]*)"')
CSRF_INPUT = re.compile(r'name="__a2i_csrf" value="([^"]*)"')


def add_worker(endpoint: str, name: str, team: str) -> str:
    """A new worker's one-time credential."""
    return AdminClient(endpoint).add_worker(name, team)["credential"]


class PortalClient:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.endpoint}{path}"

    def log_in(self, name: str, credential: str) -> requests.Response:
        form = self.http.get(self.url("/portal/login"), timeout=30)
        token = csrf_of(form.text)
        return self.http.post(self.url("/portal/login"), timeout=30,
                              data={"__a2i_csrf": token, "name": name, "credential": credential})

    def task_list(self) -> requests.Response:
        return self.http.get(self.url("/portal/tasks"), timeout=30)

    def open_task(self, region: str, loop_name: str) -> requests.Response:
        return self.http.get(self.url(f"/portal/tasks/{region}/{loop_name}"), timeout=30)

    def submit(self, region: str, loop_name: str, fields: dict[str, str | list[str]], *,
               csrf: str | None = None) -> requests.Response:
        """Post a task's form; the CSRF token comes from the task page unless given."""
        if csrf is None:
            csrf = csrf_of(self.open_task(region, loop_name).text)
        return self.http.post(self.url(f"/portal/tasks/{region}/{loop_name}"), timeout=30,
                              data={**fields, "__a2i_csrf": csrf}, allow_redirects=False)


def signed_in_worker(portal: str, team: str, name: str) -> PortalClient:
    """A new worker of ``team``, signed in to the portal."""
    client = PortalClient(portal)
    assert client.log_in(name, add_worker(None, name, team)).status_code == 200
    return client


def csrf_of(page: str) -> str:
    found = CSRF_META.search(page) or CSRF_INPUT.search(page)
    assert found, f"no CSRF token in the page:\n{page[:2000]}"
    return unescape(found.group(1))
