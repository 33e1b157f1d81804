"""Search attributes: what the Web UI can filter open cases by, without opening one.

None holds personal data. The embedded server registers them at start (scripts/run.sh), the
production stack in docker-compose.yml, the tests through the operator service.
"""

from temporalio.common import SearchAttributeKey

CASE_KIND = SearchAttributeKey.for_keyword("CaseKind")
CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
LOCAL_AUTHORITY = SearchAttributeKey.for_keyword("LocalAuthority")
PARTNERSHIP = SearchAttributeKey.for_keyword("Partnership")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
DEADLINE_MISSED = SearchAttributeKey.for_bool("DeadlineMissed")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")  # something a retry cannot mend

ALL = [CASE_KIND, CASE_STAGE, LOCAL_AUTHORITY, PARTNERSHIP, NEXT_DEADLINE, DEADLINE_MISSED, NEEDS_ATTENTION]
