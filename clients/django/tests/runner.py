"""Django's test runner, plus a summary file for run_tests.sh: "passed
failed" counted from the unittest result (skipped tests are not passed)."""

import os
import unittest

from django.test.runner import DiscoverRunner


class CountingResult(unittest.TextTestResult):
    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


class SummaryRunner(DiscoverRunner):
    def get_resultclass(self):
        return super().get_resultclass() or CountingResult

    def run_suite(self, suite, **kwargs):
        # Written before the test databases are dropped, so that a failure
        # there does not lose the results.
        result = super().run_suite(suite, **kwargs)
        path = os.environ.get("FAST_COUNT_TEST_SUMMARY")
        if path:
            failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
            with open(path, "w") as summary:
                summary.write("%d %d\n" % (getattr(result, "passed", 0), failed))
        return result
