"""The portal's own pages (login, task list, messages): small HTML documents, every value escaped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from airflow_a2i.local.store import HumanLoop, Worker

BAR_STYLE = """
.a2i-bar { display: flex; gap: 1em; align-items: center; padding: .6em 1.2em; background: #232f3e; color: #fff;
  font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 15px; }
.a2i-bar a, .a2i-bar button { color: #fff; background: none; border: 0; font: inherit; cursor: pointer;
  text-decoration: underline; padding: 0; }
.a2i-bar .a2i-title { font-weight: 600; margin-right: auto; }
.a2i-bar form { margin: 0; }
.a2i-bar kbd { font: inherit; font-size: 85%; border: 1px solid #aab7b8; border-radius: 3px; padding: 0 .3em; }
.a2i-queue-notice { margin: 0; padding: .5em 1.2em; background: #f1faff; border-bottom: 1px solid #0073bb;
  font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 15px; }
.a2i-queue-notice form { display: inline; margin: 0; }
"""
STYLE = BAR_STYLE + """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #16191f; background: #f2f3f3; }
main { max-width: 60em; margin: 1.5em auto; background: #fff; padding: 1.2em 1.6em; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45em .6em; border-bottom: 1px solid #e1e4e8; }
label { display: block; margin: .8em 0 .2em; font-weight: 600; }
input[type=text], input[type=password] { width: 100%; max-width: 24em; padding: .45em; font: inherit; }
button.primary { margin-top: 1em; padding: .5em 1.4em; background: #ec7211; color: #fff; border: 0;
  border-radius: 4px; font: inherit; font-weight: 600; cursor: pointer; }
.a2i-notice { padding: .6em .9em; border-radius: 4px; background: #f1faff; border: 1px solid #0073bb; }
.a2i-error { padding: .6em .9em; border-radius: 4px; background: #fff5f5; border: 1px solid #d13212; }
.a2i-counts td.a2i-number, .a2i-counts th.a2i-number { text-align: right; }
.a2i-counts form { margin: 0; }
.a2i-counts button, button.secondary { padding: .25em .8em; font: inherit; cursor: pointer; }
.a2i-counts th.a2i-number, .a2i-counts button { white-space: nowrap; }
.a2i-start { display: flex; gap: 1em; align-items: baseline; margin: 1em 0; }
.a2i-start button.primary { margin-top: 0; }
h2 { font-size: 1.1em; margin-top: 1.6em; }
"""


@dataclass(frozen=True)
class FlowCounts:
    """One flow definition's line of the task list: tasks the worker can open, holds, answers given today."""

    name: str
    arn: str
    open: int
    held_by_me: int
    held_by_others: int
    done_today: int


@dataclass(frozen=True)
class Summary:
    flows: list[FlowCounts]
    answered_today: int
    median_seconds: float | None


@dataclass(frozen=True)
class HoldView:
    """The worker's hold of the task on the page (``hold_id`` goes back with "Release task"), and the task they
    answered just before (``done``), if any."""

    hold_id: str
    held_until: float
    done: str = ""


SUBMIT_KEYS = "<kbd>Ctrl</kbd>+<kbd>Enter</kbd>"  # ⌘+Enter too, on a Mac (static/crowd/60-queue.js)


def document(title: str, body: str, *, bar: str = "") -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f"<body>{bar}<main>{body}</main></body></html>")


def bar(worker: Worker | None, csrf_token: str = "", *, context: str = "") -> str:
    """The strip above every page: who is signed in, the way back to the task list, logging out."""
    parts = ['<nav class="a2i-bar" aria-label="Portal"><span class="a2i-title">A2I worker portal</span>']
    if context:
        parts.append(f"<span>{escape(context)}</span>")
    if worker is not None:
        parts.append(f'<a href="/portal/tasks">Tasks</a><span>Signed in as {escape(worker.name)}</span>'
                     f'<form method="post" action="/portal/logout">'
                     f'<input type="hidden" name="__a2i_csrf" value="{escape(csrf_token)}">'
                     f'<button type="submit">Log out</button></form>')
    parts.append("</nav>")
    return "".join(parts)


def task_bar(worker: Worker, csrf_token: str, *, context: str, left: int, hold: HoldView, release_url: str) -> str:
    """The bars above a task page, with their own style (the task template's page has none of the portal's): the
    portal's, then the queue's: tasks left, the hold, "Release task", the keyboard shortcut."""
    tasks_left = f"{left} task{'' if left == 1 else 's'} left"
    done = f"Your answer to {escape(hold.done)} was submitted. " if hold.done else ""
    queue = (f'<div class="a2i-queue-notice"><span role="status">{done}<strong class="a2i-left">{tasks_left}'
             f"</strong></span> · held for you until {clock_time(hold.held_until)} UTC · {SUBMIT_KEYS} submits "
             f'and opens the next task · <form class="a2i-release" method="post" action="{escape(release_url)}">'
             f'<input type="hidden" name="__a2i_csrf" value="{escape(csrf_token)}">'
             f'<input type="hidden" name="hold" value="{escape(hold.hold_id)}">'
             '<button type="submit" class="secondary">Release task</button></form></div>')
    return f"<style>{BAR_STYLE}</style>{bar(worker, csrf_token, context=context)}{queue}"


def login_page(csrf_token: str, *, next_path: str, error: str = "") -> str:
    problem = f'<p class="a2i-error" role="alert">{escape(error)}</p>' if error else ""
    return document("Log in · A2I worker portal", f"""
<h1>Log in</h1>{problem}
<form method="post" action="/portal/login">
<input type="hidden" name="__a2i_csrf" value="{escape(csrf_token)}">
<input type="hidden" name="next" value="{escape(next_path)}">
<label for="name">Worker name</label><input type="text" id="name" name="name" autocomplete="username" required>
<label for="credential">Credential</label>
<input type="password" id="credential" name="credential" autocomplete="current-password" required>
<div><button class="primary" type="submit">Log in</button></div>
</form>
<p>Workers are added with <code>airflow-a2i local worker add NAME --team TEAM</code>, which prints the credential
once.</p>""", bar=bar(None))


def task_list_page(worker: Worker, csrf_token: str, loops: Iterable[tuple[HumanLoop, str]], *, total: int,
                   notice: str = "", summary: Summary | None = None) -> str:
    rows = "".join(
        f'<tr><td><a href="{escape(task_path(loop))}">{escape(loop.name)}</a></td><td>{escape(flow_name)}</td>'
        f"<td>{escape(loop.region)}</td><td>{_time(loop.creation_time)}</td></tr>"
        for loop, flow_name in loops)
    shown = f"<p>{total} task(s) waiting for you.</p>" if total else "<p>No task is waiting for you.</p>"
    table = ("<table><thead><tr><th>Task</th><th>Flow definition</th><th>Region</th><th>Created (UTC)</th></tr>"
             f"</thead><tbody>{rows}</tbody></table>") if rows else ""
    message = f'<p class="a2i-notice" role="status">{escape(notice)}</p>' if notice else ""
    start = _start_working() if total else ""
    counts = _counts(summary) if summary is not None else ""
    return document("Tasks · A2I worker portal", f"<h1>Your tasks</h1>{message}{shown}{start}{table}{counts}",
                    bar=bar(worker, csrf_token, context=f"Team {worker.team}"))


def _start_working() -> str:
    """A2I's "Start working": the oldest task opens, then each Submit opens the next (autofocus: Enter starts)."""
    return ('<form class="a2i-start" method="get" action="/portal/tasks/next">'
            '<button class="primary" type="submit" autofocus>Start working</button>'
            f"<span>then {SUBMIT_KEYS} on a task submits it and opens the next.</span></form>")


def _counts(summary: Summary) -> str:
    median = summary.median_seconds
    shown_median = f", {median:.{1 if median < 10 else 0}f} s per task (median)" if median is not None else ""
    throughput = (f'<p class="a2i-throughput">Today (UTC) you answered {summary.answered_today} '
                  f"task{'' if summary.answered_today == 1 else 's'}{shown_median}.</p>")
    if not summary.flows:
        return f"<h2>By flow definition</h2>{throughput}"
    rows = "".join(
        f"<tr><td>{escape(flow.name)}</td><td class=a2i-number>{flow.open}</td>"
        f"<td class=a2i-number>{flow.held_by_me}</td><td class=a2i-number>{flow.held_by_others}</td>"
        f"<td class=a2i-number>{flow.done_today}</td><td>{_start_flow(flow) if flow.open else ''}</td></tr>"
        for flow in summary.flows)
    return ("<h2>By flow definition</h2>"
            '<table class="a2i-counts"><thead><tr><th>Flow definition</th><th class=a2i-number>Open for you</th>'
            "<th class=a2i-number>Held by you</th><th class=a2i-number>Held by others</th>"
            f"<th class=a2i-number>Done by you today</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
            f"{throughput}")


def _start_flow(flow: FlowCounts) -> str:
    return ('<form method="get" action="/portal/tasks/next">'
            f'<input type="hidden" name="flow" value="{escape(flow.arn)}">'
            f'<button type="submit" aria-label="Start working on {escape(flow.name)}">Start working</button></form>')


def message_page(title: str, message: str, *, worker: Worker | None = None, csrf_token: str = "",
                 error: bool = False) -> str:
    css = "a2i-error" if error else "a2i-notice"
    return document(title, f'<h1>{escape(title)}</h1><p class="{css}" role="{"alert" if error else "status"}">'
                           f'{escape(message)}</p><p><a href="/portal/tasks">Back to your tasks</a></p>',
                    bar=bar(worker, csrf_token))


def task_path(loop: HumanLoop) -> str:
    return f"/portal/tasks/{loop.region}/{loop.name}"


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def clock_time(epoch: float) -> str:
    """A time today or soon, as a worker reads it off a clock (UTC): 14:05:09."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")
