"""``pip install ./clients/django`` works offline with Debian's setuptools and
installs the package (and only it) with its metadata."""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from django.test import SimpleTestCase

import fast_count_django

HERE = pathlib.Path(__file__).resolve().parent.parent   # clients/django


class PipInstall(SimpleTestCase):
    def test_offline_install_without_build_isolation(self):
        with tempfile.TemporaryDirectory() as tmp:
            source = pathlib.Path(tmp, "source")
            # A copy: pip builds in the source tree, which may not be ours to write.
            shutil.copytree(HERE, source, ignore=shutil.ignore_patterns(
                "tests", "build", "*.egg-info", "__pycache__"))
            target = pathlib.Path(tmp, "target")
            env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
                       HOME=tmp, PYTHONDONTWRITEBYTECODE="1")
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                 "--no-cache-dir", "--target", str(target), str(source)],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
            self.assertEqual(done.returncode, 0, done.stdout)
            dist_info = [path for path in target.iterdir() if path.name.endswith(".dist-info")]
            self.assertEqual([path.name for path in dist_info],
                             ["fast_count_django-%s.dist-info" % fast_count_django.__version__])
            metadata = (dist_info[0] / "METADATA").read_text()
            for line in ["Name: fast-count-django", "Version: " + fast_count_django.__version__,
                         "Requires-Python: >=3.8", "Requires-Dist: Django (>=3.2)",
                         "Provides-Extra: drf", "License: PostgreSQL"]:
                self.assertIn(line + "\n", metadata)
            self.assertIn("djangorestframework", metadata)
            installed = sorted(path.relative_to(target).as_posix()
                               for path in (target / "fast_count_django").rglob("*.py"))
            self.assertIn("fast_count_django/management/commands/fast_count_register.py", installed)
            self.assertIn("fast_count_django/pagination.py", installed)
            self.assertEqual(sorted(path.name for path in target.iterdir()),
                             sorted(["fast_count_django", dist_info[0].name]), "the package only")
            # Importable from where pip put it (Django from the system).
            where = subprocess.run(
                [sys.executable, "-c", "import fast_count_django, fast_count_django.options as o;"
                 " print(fast_count_django.__file__)"],
                env=dict(env, PYTHONPATH=str(target)), cwd=tmp,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            self.assertEqual(where.returncode, 0, where.stdout)
            self.assertTrue(where.stdout.strip().startswith(str(target)), where.stdout)
