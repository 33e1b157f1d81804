"""An activity run in the worker's own workflow task first, and by the server if it cannot answer there.

The quick steps of a case (the routing look-up, the calendar, the register's writes) take milliseconds.
Run as a local activity, a step needs no round trip through the server and leaves one marker in the
history (its result) instead of three events and a workflow task. A local activity holds the workflow
task while it runs and retries, so it is given a few quick attempts (`HERE`); if what it needs is away
longer (the routing file being mended, the register's database down), the same step goes to the server
as an ordinary activity, retried under its own policy for as long as it takes. Every such step is
idempotent, so an attempt repeated (a worker killed mid-step, a local attempt that timed out but wrote)
changes nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, TimeoutError
from temporalio.workflow import ActivityCancellationType

from workflows.retries import ABANDONED_WHEN_WITHDRAWN

# Four attempts of at most 5 s each, at 0, 1, 3 and 7 s, all within 20 s: then the server's activity.
HERE = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=4), maximum_attempts=4
)
ATTEMPT_TIMEOUT = timedelta(seconds=5)
HERE_TIMEOUT = timedelta(seconds=20)


async def local_first(
    activity: Any,
    arg: Any,
    *,
    here: bool,
    summary: str,
    timeout: timedelta,
    retry_policy: RetryPolicy,
    cancellation_type: ActivityCancellationType = ABANDONED_WHEN_WITHDRAWN,
) -> Any:
    """`activity(arg)`: a local activity if `here` (the case took the change that runs it so), falling
    back to the server's activity (`timeout`, `retry_policy`) when the local attempts fail."""
    if here:
        try:
            return await workflow.execute_local_activity(
                activity,
                arg,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=HERE_TIMEOUT,
                retry_policy=HERE,
                cancellation_type=cancellation_type,
                summary=summary,
            )
        # A local activity's last failure may come unwrapped (the error itself, not an ActivityError:
        # Core keeps it in the marker as the activity gave it, temporalio/sdk-core#449).
        except (ActivityError, ApplicationError, TimeoutError) as error:
            if isinstance(error.cause, CancelledError):
                raise
    return await workflow.execute_activity(
        activity,
        arg,
        start_to_close_timeout=timeout,
        retry_policy=retry_policy,
        cancellation_type=cancellation_type,
        summary=summary,
    )
