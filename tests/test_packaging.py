"""The wheel holds the product and only the product: ivr, agi and dashboard with their data files
(flows, phrase lists, dashboard templates and static files), and no harness (SIPp drivers, scripted
channel, synthetic speech, the benchmark's AGI dialogue, the demo) nor tests or benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ivr.cli import demo

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("ivr", "agi", "dashboard")
NOT_SHIPPED = ("harness", "tests", "bench")
# What used to live inside the product packages and now lives in harness/ (must not come back).
HARNESS_IN_PRODUCT = ("ivr/simulate/", "ivr/engine/scripted.py", "ivr/transcribe/synth.py", "ivr/demo.py",
                      "agi/floor.py", "agi/dialogue.py", "agi/classic/dialogue.py")
_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                 "run", "recordings")


def _modules(package: str) -> set[str]:
    """Every module of a product package in the checkout, as a wheel path (ivr/cli/main.py)."""
    return {p.relative_to(REPO).as_posix() for p in (REPO / package).rglob("*.py")}


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    # Built from a copy: the build writes build/ and *.egg-info, which must not race a colleague's
    # run in the checkout; no build isolation, so nothing is downloaded (setuptools and wheel come
    # from the dev extra).
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=_IGNORE)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(root / "dist"), str(src)],
        capture_output=True, text=True, timeout=110, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (root / "dist").glob("hotline_ivr-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.mark.timeout(120)
def test_wheel_has_no_harness(wheel_names: set[str]) -> None:
    tops = {name.split("/", 1)[0] for name in wheel_names if not name.split("/", 1)[0].endswith(".dist-info")}
    assert tops == set(PRODUCT), tops
    assert not [n for n in wheel_names if n.startswith(tuple(f"{t}/" for t in NOT_SHIPPED))]
    assert not [n for n in wheel_names if n.startswith(HARNESS_IN_PRODUCT)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("package", PRODUCT)
def test_wheel_has_every_module_of_the_product(wheel_names: set[str], package: str) -> None:
    missing = sorted(_modules(package) - wheel_names)
    assert not missing, missing


@pytest.mark.timeout(120)
def test_wheel_has_the_data_files(wheel_names: set[str]) -> None:
    for pattern in ("ivr/flows/*.yaml", "ivr/policy/*.txt", "dashboard/templates/*.html", "dashboard/static/*"):
        files = {p.relative_to(REPO).as_posix() for p in REPO.glob(pattern)}
        assert files and files <= wheel_names, (pattern, sorted(files - wheel_names))


def test_ivr_demo_without_the_harness_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An installed wheel has no harness/: `ivr demo` names what is missing and exits 2."""
    # Imports of harness fail as they would there, also when another test imported harness.demo first.
    for name in ["harness", "harness.demo", *(m for m in sys.modules if m.startswith("harness."))]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(demo, "REPO_ROOT", tmp_path)   # ... and no checkout beside the package
    app = typer.Typer()
    app.command()(demo.demo)
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2, result.output
    assert "needs the project's checkout" in result.output and "harness/" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
