"""Forms, decisions and case records: one place, shared by workflows, activities and the command line."""
