-- The case register lives on the same PostgreSQL, in a database of its own.
CREATE DATABASE register;
