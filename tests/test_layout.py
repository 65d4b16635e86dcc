"""The layout says what the code does (issue 8): the dependency rules in pyproject.toml hold,
and breaking one is caught; few loose modules; every package says what it may import."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = [p for top in ("agent", "drivers") for p in (ROOT / top).rglob("__init__.py")]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120,
    )


def test_the_dependency_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("drivers/escpos/document.py", "import agent.config", "drivers/ imports nothing"),
        ("agent/receipts/numbers.py", "import agent.delivery.outbox", "pure receipts and sales"),
        ("agent/delivery/backoff.py", "import agent.cli.common", "nothing imports the CLI"),
        ("agent/standin/rules.py", "import agent.standin.server", "no import cycles"),
    ],
)
def test_a_broken_rule_is_caught(tmp_path: Path, module: str, line: str, contract: str) -> None:
    for top in ("agent", "drivers"):
        shutil.copytree(ROOT / top, tmp_path / top, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken, result.stdout


def test_few_loose_modules_beside_the_packages() -> None:
    loose = {top: sorted(p.name for p in (ROOT / top).glob("*.py") if p.name != "__init__.py")
             for top in ("agent", "drivers")}
    assert len(loose["agent"]) <= 8, loose["agent"]
    assert len(loose["drivers"]) <= 3, loose["drivers"]


def test_no_module_grows_past_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for top in ("agent", "drivers")
            for p in (ROOT / top).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long


@pytest.mark.parametrize("init", PACKAGES, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_each_package_opens_with_what_it_holds_and_may_import(init: Path) -> None:
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert doc, f"{init} has no docstring"
    if init.parent.name not in ("agent", "drivers"):
        assert "import" in doc.lower(), f"{init}: say what the package may import"


def test_the_test_rigs_wait_and_pick_ports_one_way() -> None:
    """One `wait_until` (a generous deadline, no bare sleeps) and one `free_port` (below the
    ephemeral range) for the whole suite: copies drifted apart before (issue 15)."""
    found: dict[str, list[str]] = {"wait_until": [], "free_port": []}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name in found:
                found[node.name].append(str(path.relative_to(ROOT)))
    one = ["tests/fake_printer.py"]
    assert found == {"wait_until": one, "free_port": one}
