"""Forms, decisions and case records: one place, shared by workflows, activities and the command line."""

# pydantic loads the e-mail validator lazily, on the first e-mail field it checks; loaded here, with
# the models, it is passed through to the workflow sandbox instead of being re-imported inside it.
import email_validator  # noqa: F401
