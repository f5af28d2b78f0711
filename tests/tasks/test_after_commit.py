"""Work queued inside a transaction goes out only once it commits: never for a rollback, never for a
savepoint that rolled back, once per task and arguments, and after the rows it needs are visible."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin import tasks
from plugin.db import session_scope
from plugin.tenants.models import Tenant

seen_by_task: list = []


@tasks.task("tests.read_shop_back")
def read_shop_back(api_url: str) -> None:
    with session_scope() as session:
        seen_by_task.append(session.scalar(select(Tenant.id).where(Tenant.saleor_api_url == api_url)))


@tasks.task("tests.noop")
def noop(*_args) -> None:
    pass


class Recorder(tasks.Runner):
    def __init__(self):
        self.calls = []

    def enqueue(self, name, *args, countdown=0):
        self.calls.append((name, args))


@pytest.fixture
def recorder(app):
    app.extensions["task_runner"] = runner = Recorder()
    with app.app_context():
        yield runner


def _shop(session, n: int) -> None:
    session.add(Tenant(saleor_api_url=f"https://shop{n}.example.com/graphql/"))
    session.flush()


def test_published_when_the_transaction_commits_not_before(recorder):
    with session_scope() as session:
        _shop(session, 1)
        noop.after_commit(session, 1)
        tasks.after_commit(session, noop, 2)
        assert recorder.calls == []
    assert recorder.calls == [("tests.noop", (1,)), ("tests.noop", (2,))]


def test_a_rollback_publishes_nothing(recorder):
    with pytest.raises(RuntimeError), session_scope() as session:
        _shop(session, 1)
        noop.after_commit(session, 1)
        raise RuntimeError("the decision failed")
    assert recorder.calls == []
    with session_scope() as session:  # the next transaction of a new session starts clean
        session.scalar(select(Tenant.id))
    assert recorder.calls == []


def test_a_savepoint_that_rolls_back_takes_only_its_own_work_along(recorder):
    with session_scope() as session:
        noop.after_commit(session, "outer")
        with pytest.raises(RuntimeError), session.begin_nested():
            _shop(session, 1)
            noop.after_commit(session, "inside the failed savepoint")
            raise RuntimeError("constraint")
        with session.begin_nested():
            _shop(session, 2)
            noop.after_commit(session, "inside the released savepoint")
    assert recorder.calls == [("tests.noop", ("outer",)), ("tests.noop", ("inside the released savepoint",))]


def test_a_released_savepoint_still_waits_for_the_outer_commit(recorder):
    with pytest.raises(RuntimeError), session_scope() as session:
        with session.begin_nested():
            _shop(session, 1)
            noop.after_commit(session, "released, then rolled back with the transaction")
        assert recorder.calls == []
        raise RuntimeError("the outer transaction fails")
    assert recorder.calls == []


def test_the_same_task_and_arguments_go_out_once_per_transaction(recorder):
    with session_scope() as session:
        for _ in range(3):
            noop.after_commit(session, 7)
        noop.after_commit(session, 8)
    assert recorder.calls == [("tests.noop", (7,)), ("tests.noop", (8,))]
    with session_scope() as session:
        noop.after_commit(session, 7)
    assert recorder.calls[-1] == ("tests.noop", (7,)), "a new transaction publishes it again"


def test_each_transaction_of_one_session_publishes_its_own_work(recorder):
    with session_scope() as session:
        noop.after_commit(session, "first")
        session.commit()
        assert recorder.calls == [("tests.noop", ("first",))]
        noop.after_commit(session, "second")
        session.rollback()
        noop.after_commit(session, "third")
    assert recorder.calls == [("tests.noop", ("first",)), ("tests.noop", ("third",))]


def test_the_task_finds_the_rows_of_the_transaction_that_queued_it(app):
    seen_by_task.clear()
    with app.app_context():  # the eager runner: the task runs inline, right after the commit
        with session_scope() as session:
            _shop(session, 1)
            read_shop_back.after_commit(session, "https://shop1.example.com/graphql/")
            assert seen_by_task == []
    assert len(seen_by_task) == 1 and seen_by_task[0] is not None


def test_a_handle_runs_inline_when_called_and_keeps_its_name(app):
    seen_by_task.clear()
    with app.app_context():
        assert read_shop_back("https://nowhere.example.com/graphql/") is None
    assert seen_by_task == [None]
    assert tasks.REGISTRY["tests.read_shop_back"] is read_shop_back
    assert read_shop_back.name == "tests.read_shop_back"


# -- follow-ups: same-worker tasks run right after the task that queued them ------------------------

ran: list = []


@tasks.task("tests.mail_like", same_worker=True)
def mail_like(n: int) -> None:
    ran.append(("mail", n))
    if n == 99:
        raise RuntimeError("the SMTP server went away")


@tasks.task("tests.writes_then_queues")
def writes_then_queues(n: int) -> None:
    with session_scope() as session:
        _shop(session, n)
        mail_like.after_commit(session, n)
        noop.after_commit(session, n)  # not same_worker: through the broker as always
    ran.append(("body", n))


def test_a_same_worker_task_runs_after_the_task_that_queued_it_without_the_broker(recorder):
    ran.clear()
    with tasks.follow_ups():
        writes_then_queues(1)
        assert ran == [("body", 1)], "not before the task's body has finished"
    assert ran == [("body", 1), ("mail", 1)]
    assert recorder.calls == [("tests.noop", (1,))]


def test_outside_a_task_a_same_worker_task_goes_through_the_broker(recorder):
    ran.clear()
    writes_then_queues(2)
    assert ran == [("body", 2)]
    assert recorder.calls == [("tests.mail_like", (2,)), ("tests.noop", (2,))]


def test_a_failed_follow_up_is_published_for_the_broker_to_retry(recorder):
    ran.clear()
    with tasks.follow_ups():
        writes_then_queues(99)
    assert ran == [("body", 99), ("mail", 99)]
    assert ("tests.mail_like", (99,)) in recorder.calls


def test_when_the_task_fails_what_it_committed_still_goes_out(recorder):
    ran.clear()
    with pytest.raises(RuntimeError), tasks.follow_ups():
        writes_then_queues(3)
        raise RuntimeError("the task failed after its first commit")
    assert ("mail", 3) not in ran
    assert ("tests.mail_like", (3,)) in recorder.calls


@tasks.task("tests.sends_last", same_worker=True, last=True)
def sends_last(n: int) -> None:
    ran.append(("send", n))


@tasks.task("tests.approves")
def approves(n: int) -> None:
    with session_scope() as session:
        _shop(session, n)
        sends_last.after_commit(session, n)  # the approval's own mail
        issues.after_commit(session, n)


@tasks.task("tests.issues", same_worker=True)
def issues(n: int) -> None:
    ran.append(("issue", n))
    with session_scope() as session:
        _shop(session, n + 100)
        sends_last.after_commit(session, n)  # the rewards' mail: the same run covers both


def test_a_last_follow_up_waits_for_the_others_and_runs_once_for_all(recorder):
    ran.clear()
    with tasks.follow_ups():
        approves(4)
    assert ran == [("issue", 4), ("send", 4)]
    assert recorder.calls == []
