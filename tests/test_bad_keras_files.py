"""Every malformed HDF5 / ``.keras`` file in ``tests/data/bad_keras/`` gives its exact, typed error.

The files come from ``tests/data/make_bad_keras_files.py`` (numpy/h5py/zlib/struct, no kerasave).
Each folder is a case holding the file a user would open (``x.keras``, ``x.weights.h5`` or
``x.h5``), sometimes beside a valid file it points to. ``CASES`` says what each must raise and
when; ``test_every_case_has_an_entry`` fails when a folder has no entry (or an entry no folder).

When is the error due (``how``):
  ``open``  ``ks.open(path)`` raises (with ``verify`` on and off).
  ``use``   opening, listing and reading every key (verify on and off), ``config`` and
            ``metadata``: one of these raises. Lazy stores may defer the error, but must not
            hide it.

Every message names the file (the copy the test opened) and, where there is one, the dataset,
attribute or zip member (``key``). Whatever the trigger, ``kerasave verify`` exits non-zero
without a traceback, and nothing is ever written: not beside the file, not in the working
directory, not at ``/abs.txt``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

import kerasave as ks  # noqa: E402  (a broken build must fail, not skip)
import kerasave._core  # noqa: E402,F401

from kerasave.errors import CorruptFileError, KerasaveError, UnsupportedFormatError  # noqa: E402

HERE = Path(__file__).resolve().parent
BAD = HERE / "data" / "bad_keras"
sys.path.insert(0, str(HERE / "data"))
import make_bad_keras_files as mk  # noqa: E402  (the builder of these files; used for the controls)

KERAS, WEIGHTS, LEGACY = mk.KERAS, mk.WEIGHTS, mk.LEGACY
KERNEL = "layers/dense/vars/0"


class Case(NamedTuple):
    exc: type
    match: str  # a substring of the message (case-insensitive regex)
    how: str  # open | use
    file: str  # the file to open (and that the message names), relative to the case folder
    key: Optional[str] = None  # dataset / attribute / member the message must name


C, U = CorruptFileError, UnsupportedFormatError

CASES: dict[str, Case] = {
    # -- HDF5 container ------------------------------------------------------------------------
    "truncated_h5": Case(C, "truncated file", "open", WEIGHTS),
    # Named .weights.h5 and empty: a damaged HDF5 file, not an unknown kind of file.
    "empty_h5": Case(C, "empty file", "open", WEIGHTS),
    # 4 KB of random bytes named x.h5: the suffix says HDF5, the bytes are not.
    "garbage_h5": Case(C, "not a readable HDF5 file", "open", LEGACY),
    "garbage_after_signature": Case(C, "not a readable HDF5 file.*superblock", "open", WEIGHTS),
    # -- HDF5 objects that read other files or other places (refused when opening) ------------
    "external_link": Case(U, "external link", "open", WEIGHTS, KERNEL),
    "soft_link": Case(U, "soft link", "open", WEIGHTS, KERNEL),
    "external_storage": Case(U, "external file", "open", WEIGHTS, KERNEL),
    "virtual_dataset": Case(U, "virtual dataset", "open", WEIGHTS, KERNEL),
    # -- HDF5 sizes that do not add up --------------------------------------------------------
    "shape_exceeds_storage": Case(C, "needs 480 bytes but the dataset stores 48", "open", WEIGHTS,
                                  KERNEL),
    "data_past_eof": Case(C, "past the end|outside the file|dataset size", "open", WEIGHTS,
                          KERNEL),
    # libhdf5 itself would spin forever reading @dtype (fuzz finding, see fuzz/README.md).
    "global_heap_loop": Case(C, "global heap.*size 0", "open", WEIGHTS, KERNEL),
    # @dtype's vlen length field says 1.5 GiB: libhdf5 allocates and fills that much first.
    "vlen_length_bomb": Case(C, "dtype", "open", WEIGHTS, KERNEL),
    # Chunk dims of rank 2 for a rank-1 dataset: libhdf5's H5Dread allocates without bound.
    "chunk_rank_mismatch": Case(C, "rank", "use", WEIGHTS, KERNEL),
    # -- legacy .h5 -------------------------------------------------------------------------------
    "legacy_bad_model_config": Case(C, "not valid JSON", "open", LEGACY, "model_config"),
    # -- .keras zip ------------------------------------------------------------------------------
    "keras_bad_config": Case(C, "not valid JSON", "open", KERAS, "config.json"),
    "zip_dotdot": Case(C, "has a '..' component", "open", KERAS, "../evil.txt"),
    "zip_nested_dotdot": Case(C, "has a '..' component", "open", KERAS, "assets/../../evil.txt"),
    "zip_absolute": Case(C, "absolute path", "open", KERAS, "/abs.txt"),
    "zip_duplicate": Case(C, "duplicate member name", "open", KERAS, "config.json"),
    "zip_bomb": Case(C, "declares 4294967294 bytes.*zip bomb", "open", KERAS, "model.weights.h5"),
    "empty_keras": Case(C, "empty file", "open", KERAS),
    "truncated_keras": Case(C, "no end of central directory record", "open", KERAS),
    "keras_no_weights": Case(C, "no such member", "open", KERAS, "model.weights.h5"),
    "keras_garbage_weights": Case(C, "not a readable HDF5 file", "open", KERAS,
                                  "model.weights.h5"),
}

#: Cases that make (or made) libhdf5 loop forever or allocate without bound: their API test
#: runs in a child process with a timeout and an address-space limit, so a regression fails the
#: test instead of hanging the suite or taking the machine's memory.
GUARDED = {"global_heap_loop", "chunk_rank_mismatch", "vlen_length_bomb"}
HANG_TIMEOUT = 60
#: The most memory (max RSS) any command may use on a bad file of a few KB.
MAX_RSS_KB = 1 << 20

#: Cases where the library currently gives the wrong error, with the bug. The assertions stay
#: strict: these tests are expected to fail (``xfail(strict=True)``); once the library is fixed
#: they XPASS, which fails the run, so the entry has to be removed here.
#: Keys: ``(test, case)`` with test one of "api", "cli".
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def params(test: str, cases) -> list:
    out = []
    for case in sorted(cases):
        bug = KNOWN_BUGS.get((test, case))
        marks = [pytest.mark.xfail(reason=bug, strict=True)] if bug else []
        out.append(pytest.param(case, marks=marks, id=case))
    return out


def case_dirs() -> list[str]:
    return sorted(p.name for p in BAD.iterdir() if p.is_dir())


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the sha256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Copies a case to ``tmp/area/<case>``, runs the test from ``tmp/cwd``, and afterwards checks
    that no file appeared, changed or vanished anywhere under ``tmp`` (``../evil.txt`` would land
    in ``tmp/area``) and that nothing was written to ``/abs.txt``."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    abs_before = os.path.exists("/abs.txt")
    copied: list[Path] = []

    def copy(case: str) -> Path:
        dst = tmp_path / "area" / case
        shutil.copytree(BAD / case, dst)
        copied.append(dst)
        return dst

    before: dict[str, str] = {}

    def arm() -> None:
        before.update(snapshot(tmp_path))

    copy.arm = arm  # type: ignore[attr-defined]
    yield copy
    after = snapshot(tmp_path)
    assert after == before, f"files changed under {tmp_path}: {set(after) ^ set(before)}"
    assert not list(tmp_path.rglob("evil.txt")) and not list(tmp_path.rglob("abs.txt"))
    if not abs_before:
        assert not os.path.exists("/abs.txt"), "a member was extracted to /abs.txt"


def assert_names(err: BaseException, case: str, spec: Case, path: Path) -> None:
    got = type(err).__name__
    assert type(err) is spec.exc, f"{case}: {got} instead of {spec.exc.__name__}: {err}"
    msg = str(err)
    assert re.search(spec.match, msg, re.IGNORECASE), f"{case}: {msg!r} lacks {spec.match!r}"
    assert str(path) in msg or os.path.realpath(path) in msg, (
        f"{case}: message does not name {path}: {msg!r}"
    )
    if spec.key is not None:
        assert spec.key in msg, f"{case}: message does not name {spec.key!r}: {msg!r}"


def use_everything(path: Path, verify: bool) -> None:
    """What a user does with a store: list, read every key, look at config and metadata."""
    with ks.open(path, verify=verify) as store:
        for key in store.keys():
            store.shape(key)
            store.dtype(key)
            store[key]
        store.config
        store.metadata
        store.verify()


# ---------------------------------------------------------------------------------------------


def test_every_case_has_an_entry():
    on_disk = set(case_dirs())
    assert on_disk, f"no cases under {BAD}; run tests/data/make_bad_keras_files.py"
    missing = sorted(on_disk - CASES.keys())
    assert not missing, f"cases in tests/data/bad_keras without an entry in CASES: {missing}"
    assert not CASES.keys() - on_disk, f"CASES without a folder: {sorted(CASES.keys() - on_disk)}"


def test_files_are_what_the_script_writes(tmp_path):
    mk.build(tmp_path)
    assert mk.digest(tmp_path) == mk.digest(BAD), (
        "tests/data/bad_keras is stale: run python3 tests/data/make_bad_keras_files.py"
    )


def test_errors_are_typed():
    for case, spec in CASES.items():
        assert issubclass(spec.exc, KerasaveError), case
        assert spec.how in ("open", "use"), case
    assert {c for _, c in KNOWN_BUGS} <= CASES.keys()


@pytest.mark.parametrize("name,fmt", [(KERAS, "keras_archive"), (WEIGHTS, "keras_weights_h5"),
                                      (LEGACY, "legacy_h5_model")])
def test_good_controls_read(tmp_path, name, fmt):
    """The sound twins of the bad files read: each case is bad for its own reason only."""
    d = mk.write_good(tmp_path)
    with ks.open(d / name) as store:
        assert store.format == fmt
        keys = store.keys()
        assert keys
        for key in keys:
            store[key]
        store.verify()
        if fmt == "keras_archive":
            assert store.config["class_name"] == "Sequential"
            assert (store[KERNEL] == mk.KERNEL).all()
        elif fmt == "keras_weights_h5":
            assert (store[KERNEL] == mk.KERNEL).all()


# Peak RSS of this process only. ``ru_maxrss`` is wrong here: Linux keeps the high-water mark of
# the mm that execve replaced, i.e. the forking pytest parent's RSS (over 1 GB once TF has been
# imported by an interop test), so a child would "use" memory it never touched. VmHWM belongs to
# the new mm; ru_maxrss stays the fallback where /proc is missing.
_PEAK_RSS_KB = """
def peak_rss_kb():
    import resource
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_CHILD = _PEAK_RSS_KB + """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
sys.path.insert(0, sys.argv[3])
import test_bad_keras_files as t
try:
    if sys.argv[4] == "open":
        t.ks.open(sys.argv[1], verify=sys.argv[2] == "1")
    else:
        t.use_everything(sys.argv[1], sys.argv[2] == "1")
except Exception as e:
    out = [type(e).__name__, str(e)]
else:
    out = None
rss = peak_rss_kb()
print(json.dumps([out, rss]))
"""


def _run_in_child(path: Path, verify: bool, how: str) -> BaseException:
    """The API check in a child process with a timeout and a 3 GiB address-space limit; the
    error it raised, rebuilt as the same class."""
    args = [sys.executable, "-c", _CHILD, str(path), "1" if verify else "0", str(HERE), how]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=HANG_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ks.open({path}) did not return within {HANG_TIMEOUT}s (libhdf5 loop?)")
    assert proc.returncode == 0, proc.stderr
    got, rss = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rss < MAX_RSS_KB, f"{path}: used {rss >> 10} MB of memory"
    assert got is not None, f"{path}: no error"
    name, message = got
    cls = getattr(ks.errors, name, None) or getattr(__builtins__, name, RuntimeError)
    return cls(message)


@pytest.mark.parametrize("case", params("api", CASES))
def test_bad_file(case, sandbox):
    spec = CASES[case]
    path = sandbox(case) / spec.file
    sandbox.arm()
    if case in GUARDED:
        for verify in (False, True):
            assert_names(_run_in_child(path, verify, spec.how), case, spec, path)
        return
    for verify in (False, True):
        with pytest.raises(spec.exc) as info:
            if spec.how == "open":
                ks.open(path, verify=verify)
            else:
                use_everything(path, verify)
        assert_names(info.value, case, spec, path)


# -- the CLI ------------------------------------------------------------------------------------

# Prints its max RSS last, so every run can be checked for giant allocations.
CLI = [sys.executable, "-c",
       _PEAK_RSS_KB + "import atexit, sys\n"
       "atexit.register(lambda: sys.stderr.write('MAXRSS %d\\n' % peak_rss_kb()))\n"
       "from kerasave.cli import main\n"
       "sys.exit(main())"]


def _limit_memory():  # pragma: no cover - runs in the child
    import resource

    # A giant allocation (the bomb's 4 GiB) must fail as an error, not take the machine.
    limit = 4 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_cli(*args: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=HANG_TIMEOUT * 2, cwd=cwd,
        preexec_fn=_limit_memory if sys.platform.startswith("linux") else None,
    )


@pytest.mark.parametrize("name", [KERAS, WEIGHTS, LEGACY])
def test_cli_verify_good(tmp_path, name):
    d = mk.write_good(tmp_path)
    proc = run_cli("verify", str(d / name))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", params("cli", CASES))
def test_cli_verify_bad(case, sandbox):
    spec = CASES[case]
    path = sandbox(case) / spec.file
    sandbox.arm()
    proc = run_cli("verify", str(path), cwd=Path.cwd())
    out = proc.stdout + proc.stderr
    rss = int(out.rsplit("MAXRSS ", 1)[1].split()[0])
    assert rss < MAX_RSS_KB, f"{case}: verify used {rss >> 10} MB of memory"
    # Exit codes (kerasave.cli): 1 = corrupt, 2 = unsupported format.
    want = 1 if spec.exc is CorruptFileError else 2
    assert proc.returncode == want, f"{case}: exit code {proc.returncode}, expected {want}\n{out}"
    assert "Traceback" not in out and "panicked" not in out, f"{case}:\n{out}"
    assert str(path) in out, f"{case}: output does not name the file:\n{out}"
    # A conversion of a bad file fails the same way and leaves no output behind.
    target = path.parent.parent / f"{case}.safetensors"
    proc = run_cli("convert", str(path), str(target), cwd=Path.cwd())
    assert proc.returncode == want, f"{case}: convert exit code {proc.returncode}\n{proc.stderr}"
    assert not target.exists() and not list(path.parent.parent.glob(f".{case}*"))
