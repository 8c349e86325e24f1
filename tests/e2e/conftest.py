"""End-to-end tests share the local stack fixtures of tests/localstack."""

from tests.localstack.conftest import kitchen, stack, stack_db  # noqa: F401
