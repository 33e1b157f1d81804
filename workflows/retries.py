"""Every activity's retry policy, in one place (after Temporal's money-transfer project template).

What a retry can mend (a mail server or database down for a while, the routing file being edited) is
retried with backoff for as long as it takes; the case waits at that step and the Web UI shows the
pending activity with its last error. What a retry cannot mend is raised as a non-retryable
`ApplicationError` of one of the types below: the case records it, shows it (`status`, the
`NeedsAttention` search attribute), tells the Business Unit and goes on.
"""

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

# A message that cannot be sent as it is: refused by the mail server (5xx), a header the e-mail library
# refuses, a template or routing mistake, a document that is not there.
MESSAGE_ERRORS = ["MessageRefused", "MessageInvalid", "TemplateError", "RoutingError", "DocumentMissing"]

# The routing file and the calendar: a mistake in the file is mended by editing it.
CONFIGURATION = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=10)
)
# Messages: a mail server down for a stretch is waited for; what it refuses for good is not retried.
SENDING = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=15),
    non_retryable_error_types=MESSAGE_ERRORS,
)
# The Rapid Review report: a document that cannot be rendered from the case's data is not retried.
REPORTS = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["ReportInvalid"],
)
# The case register: every event is written in the end, however long the database is away.
REGISTER = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
# A withdrawal ends a case in the middle of a step (CaseWorkflow.follow): the step's activity is left to
# itself, not cancelled on the server; it is idempotent, and the server forgets it once the case ends.
ABANDONED_WHEN_WITHDRAWN = ActivityCancellationType.ABANDON
