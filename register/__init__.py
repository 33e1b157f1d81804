"""The case register: the partnership's own record of every case for years (sqlmodel).

Temporal keeps a case's history only for the namespace's retention period; the register keeps what
came in, who decided what and when, which deadline was met or missed and which message went to whom.
Workflows never touch it: the `record_events` activity writes it, idempotently.
"""
