"""Every malformed checkpoint under ``tests/data/bad/`` gives its exact, typed error.

The files come from ``tests/data/make_bad_files.py`` (pure Python, no kerasave). Each folder is a
case: the prefix ``<case>/ckpt`` (or, for ``garbage_state``, the folder itself). ``CASES`` says
what each must raise and when; ``test_every_case_has_an_entry`` fails when a folder has no entry
(or an entry has no folder), as parquet's ``bad_data`` tests do.

When is the error due (``how``):
  ``open``          ``ks.open(path)`` and ``ks.checkpoint.load_checkpoint(path)`` raise.
  ``read``          opening succeeds; reading ``key`` raises, with ``verify`` on and off.
  ``read_all``      opening succeeds; reading every key raises somewhere.
  ``verify``        opening succeeds; reading ``key`` with ``verify=False`` works (zero-copy
                    trusts the file) and with ``verify=True`` raises.
  ``object_graph``  opening and reading work; decoding the object graph raises.

Every message names the file (``file``, relative to the case folder) and, where there is one, the
key. Whatever the trigger, ``verify()`` and ``kerasave verify`` must fail on every case, and the
CLI must exit non-zero without a traceback, a panic, a hang or a giant allocation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

import kerasave as ks  # noqa: E402  (a broken build must fail, not skip)
import kerasave._core  # noqa: E402,F401

from kerasave.errors import CorruptFileError, KerasaveError, UnsupportedFormatError  # noqa: E402

HERE = Path(__file__).resolve().parent
BAD = HERE / "data" / "bad"
sys.path.insert(0, str(HERE / "data"))
import make_bad_files  # noqa: E402  (the builder of these files; used for the good control)

INDEX = "ckpt.index"
DATA = "ckpt.data-00000-of-00001"


class Case(NamedTuple):
    exc: type
    match: str  # a substring of the message (case-insensitive regex)
    how: str  # open | read | read_all | verify | object_graph
    key: Optional[str] = None  # the key to read, which the message must name
    file: str = INDEX  # the file the message must name, relative to the case folder
    names_key: bool = True  # False: an OS error about a file, which need not name the key
    verify_key: Optional[str] = None  # the key a full verify names, when not `key` (first in order)


C, U = CorruptFileError, UnsupportedFormatError
OG = "_CHECKPOINTABLE_OBJECT_GRAPH"

CASES: dict[str, Case] = {
    # -- the SSTable container (tf_formats.md §1) --------------------------------------------
    "empty_index": Case(C, "file is too short to be an sstable", "open"),
    "truncated_index": Case(C, r"not an sstable \(bad magic number", "open"),
    "short_index": Case(C, "file is too short to be an sstable", "open"),
    "bad_magic": Case(C, r"not an sstable \(bad magic number", "open"),
    "bad_block_crc": Case(C, "block checksum mismatch", "open"),
    "bad_block_type": Case(C, "bad block type 7", "open"),
    "bad_snappy_block": Case(C, "corrupted compressed block contents.*snappy", "open"),
    "bad_restarts": Case(C, "1000 restart points do not fit", "open"),
    "bad_restart_offset": Case(C, "first restart point is 200", "open"),
    "bad_shared": Case(C, "bad entry in block.*shares 5 bytes with a previous key of 1", "open"),
    "bad_value_length": Case(C, "bad entry in block.*past the restart array", "open"),
    "index_handle_past_eof": Case(C, "truncated block read: block at offset 1000", "open"),
    "index_handle_huge": Case(C, "truncated block read", "open"),
    "footer_handle_past_eof": Case(C, "truncated block read: block at offset 5000", "open"),
    "keys_out_of_order": Case(C, "keys not in strictly increasing order", "open"),
    "duplicate_key": Case(C, "keys not in strictly increasing order", "open"),
    # -- the header (§1.8) --------------------------------------------------------------------
    "no_header": Case(C, "missing bundle header", "open"),
    "bad_header_proto": Case(C, "bad bundle header", "open"),
    "version_min_consumer": Case(U, "min consumer version 2 above current version 1", "open"),
    "version_bad_consumers": Case(U, "disallows consumer version 1", "open"),
    # No writer ever produced a negative producer: damage, not a newer format.
    "version_negative_producer": Case(C, "producer version -1 below min producer 0", "open"),
    # TF accepts any count and fails only when a read names the missing file; so must we,
    # without allocating anything per shard.
    "huge_num_shards": Case(FileNotFoundError, "No such file", "read", key="w",
                            file="ckpt.data-00000-of-2147483647", verify_key="s"),
    "negative_num_shards": Case(C, "bad num_shards -1", "open"),
    "zero_num_shards": Case(C, "bad num_shards 0", "open"),
    "unknown_endianness": Case(C, "unknown endianness 7", "open"),
    # -- entries (§1.8, §2) ---------------------------------------------------------------------
    "bad_entry_proto": Case(C, "bundle entry", "open", key="w"),
    "shard_id_out_of_range": Case(C, "shard_id 3 out of range", "open", key="w"),
    "entry_past_shard_end": Case(C, "past the end of the data file", "read", key="w", file=DATA),
    "entry_offset_overflow": Case(C, "overflows", "open", key="w"),
    "negative_offset": Case(C, "negative offset -8", "open", key="w"),
    "missing_shard": Case(FileNotFoundError, "No such file", "read", key="w", file=DATA,
                          verify_key="s"),
    "size_mismatch": Case(C, "Invalid size in bundle entry.*stored size 12; expected size 8",
                          "open", key="w"),
    "absurd_shape": Case(C, "Invalid size in bundle entry.*expected size 8796093022208", "open",
                         key="w"),
    "overflow_shape": Case(C, "overflows", "open", key="w"),
    "negative_dim": Case(C, "negative dimension -1", "open", key="w"),
    "unknown_dtype": Case(U, "unknown TF dtype code 99", "open", key="w"),
    # DT_INVALID (0, or the field missing) is never valid in any TF version: damage.
    "invalid_dtype": Case(C, "dtype", "open", key="w"),
    "resource_dtype": Case(U, "resource tensors cannot be stored", "open", key="w"),
    "flipped_tensor_byte": Case(C, "Checksum does not match", "verify", key="w", file=DATA),
    # -- strings (§2.4) ---------------------------------------------------------------------------
    "string_lengths_past_size": Case(C, "string lengths add up to 205 bytes", "read", key="s",
                                     file=DATA),
    "string_huge_length": Case(C, "string lengths add up to 4611686018427387904", "read",
                               key="s", file=DATA),
    "string_huge_count": Case(C, "Invalid size in bundle entry.*1099511627776 elements", "open",
                              key="s"),
    "string_bad_varint": Case(C, "varint", "read", key="s", file=DATA),
    "string_count_past_shard_end": Case(C, "past the end of the data file", "read", key="s",
                                        file=DATA),
    "string_flipped_byte": Case(C, "Checksum does not match", "verify", key="s", file=DATA),
    "string_bad_length_crc": Case(C, "string length checksum does not match", "verify", key="s",
                                  file=DATA),
    # -- partitioned tensors (§2.6) --------------------------------------------------------------
    "slice_missing": Case(C, "has no slice entry", "open", key="w"),
    "slice_out_of_bounds": Case(C, r"slice extent \(5, 1\) does not fit in shape \[2\]", "open",
                                key="w"),
    "slice_huge_past_shard_end": Case(C, "past the end of the data file", "read", key="w",
                                      file=DATA),
    # -- variants (§2.5) ------------------------------------------------------------------------
    "variant_length_past_size": Case(C, "length 1000 runs past the payload", "read", key="s",
                                     file=DATA),
    # -- object graph (§4) ------------------------------------------------------------------------
    "garbage_object_graph": Case(C, "TrackableObjectGraph", "object_graph", key=OG, file=DATA),
    # -- the checkpoint state file (§3) ----------------------------------------------------------
    # The file exists but does not parse: corruption of that file, not a missing file.
    "garbage_state": Case(C, "checkpoint", "open", file="checkpoint"),
}


#: Cases where the library currently gives the wrong error, with the bug. The assertions stay
#: strict: these tests are expected to fail (``xfail(strict=True)``), and once the library is
#: fixed they pass and fail the run as XPASS, so the entry has to be removed here.
#: Keys: ``(test, case)`` with test one of "api", "verify_all", "cli".
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def params(test: str, cases) -> list:
    """``cases`` as pytest params, the known bugs of ``test`` marked strict xfail."""
    out = []
    for case in sorted(cases):
        bug = KNOWN_BUGS.get((test, case))
        marks = [pytest.mark.xfail(reason=bug, strict=True)] if bug else []
        out.append(pytest.param(case, marks=marks, id=case))
    return out


def case_dirs() -> list[str]:
    return sorted(p.name for p in BAD.iterdir() if p.is_dir())


def path_of(case: str) -> Path:
    """What a user would pass: the folder for a state-file case, else the prefix."""
    d = BAD / case
    return d if (d / "checkpoint").exists() else d / "ckpt"


def assert_names(err: BaseException, case: str, spec: Case) -> None:
    got = type(err).__name__
    assert type(err) is spec.exc, f"{case}: {got} instead of {spec.exc.__name__}: {err}"
    msg = str(err)
    assert re.search(spec.match, msg, re.IGNORECASE), f"{case}: {msg!r} lacks {spec.match!r}"
    wanted = BAD / case / spec.file
    assert str(wanted) in msg or os.path.realpath(wanted) in msg, (
        f"{case}: message does not name {wanted}: {msg!r}"
    )
    if spec.key is not None and spec.names_key:
        # Quoted, as the library prints keys: a bare substring could match the file's path.
        assert f'"{spec.key}"' in msg, f"{case}: message does not name key {spec.key!r}: {msg!r}"


def read_every_key(path: Path, verify: bool) -> None:
    with ks.open(path, verify=verify) as store:
        for key in store:
            store[key]


# ---------------------------------------------------------------------------------------------


def test_every_case_has_an_entry():
    on_disk = set(case_dirs())
    assert on_disk, f"no cases under {BAD}; run tests/data/make_bad_files.py"
    missing = sorted(on_disk - CASES.keys())
    assert not missing, f"cases in tests/data/bad without an entry in CASES: {missing}"
    assert not CASES.keys() - on_disk, f"CASES without a folder: {sorted(CASES.keys() - on_disk)}"


def test_files_are_what_the_script_writes(tmp_path):
    make_bad_files.make_all(tmp_path)
    assert make_bad_files.digest(tmp_path) == make_bad_files.digest(BAD), (
        "tests/data/bad is stale: run python3 tests/data/make_bad_files.py"
    )


@pytest.mark.parametrize("case", params("api", CASES))
def test_bad_file(case):
    spec = CASES[case]
    path = path_of(case)

    if spec.how == "open":
        with pytest.raises(spec.exc) as info:
            ks.open(path)
        assert_names(info.value, case, spec)
        with pytest.raises(spec.exc) as info:
            ks.checkpoint.load_checkpoint(path)
        assert_names(info.value, case, spec)
        return

    if spec.how == "read":
        for verify in (False, True):
            with ks.open(path, verify=verify) as store:
                assert spec.key in store
                with pytest.raises(spec.exc) as info:
                    store[spec.key]
                assert_names(info.value, case, spec)
        reader = ks.checkpoint.load_checkpoint(path)
        with pytest.raises(spec.exc) as info:
            reader.get_tensor(spec.key)
        assert_names(info.value, case, spec)
        return

    if spec.how == "read_all":
        for verify in (False, True):
            with pytest.raises(spec.exc) as info:
                read_every_key(path, verify)
            assert_names(info.value, case, spec)
        return

    if spec.how == "verify":
        with ks.open(path, verify=False) as store:
            store[spec.key]  # the bytes are well-formed; only the checksum is off
        with ks.open(path, verify=True) as store:
            with pytest.raises(spec.exc) as info:
                store[spec.key]
            assert_names(info.value, case, spec)
        reader = ks.checkpoint.load_checkpoint(path, verify=True)
        with pytest.raises(spec.exc) as info:
            reader.get_tensor(spec.key)
        assert_names(info.value, case, spec)
        return

    if spec.how == "object_graph":
        read_every_key(path, verify=True)
        reader = ks.checkpoint.load_checkpoint(path)
        with pytest.raises(spec.exc) as info:
            reader.object_graph()
        assert_names(info.value, case, spec)
        return

    raise AssertionError(f"{case}: unknown trigger {spec.how!r}")


@pytest.mark.parametrize("case", params("verify_all", [c for c in CASES if CASES[c].how != "open"]))
def test_verify_all_fails(case):
    """A checkpoint that opens must still fail a full verification, with the same error."""
    spec = CASES[case]
    if spec.verify_key is not None:
        spec = spec._replace(key=spec.verify_key)
    with pytest.raises(spec.exc) as info:
        ks.checkpoint.load_checkpoint(path_of(case)).verify()
    assert_names(info.value, case, spec)


def test_errors_are_typed():
    for case, spec in CASES.items():
        assert issubclass(spec.exc, (KerasaveError, FileNotFoundError, KeyError)), case
    assert {c for _, c in KNOWN_BUGS} <= CASES.keys()


# -- the CLI ------------------------------------------------------------------------------------

CLI = [sys.executable, "-c", "import sys; from kerasave.cli import main; sys.exit(main())"]


def _limit_memory():  # pragma: no cover - runs in the child
    import resource

    # A giant allocation must fail as an error, not take the machine: 4 GiB of address space.
    limit = 4 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    import kerasave.cli  # noqa: F401
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120,
        preexec_fn=_limit_memory if sys.platform.startswith("linux") else None,
    )


def test_cli_verify_good(tmp_path):
    make_bad_files.write_good(tmp_path)
    proc = run_cli("verify", str(tmp_path / "good" / "ckpt"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", params("cli", CASES))
def test_cli_verify_bad(case):
    spec = CASES[case]
    proc = run_cli("verify", str(path_of(case)))
    out = proc.stdout + proc.stderr
    # Exit codes (kerasave.cli): 1 = corrupt, 2 = missing file or unsupported format.
    want = 1 if spec.exc is CorruptFileError else 2
    assert proc.returncode == want, f"{case}: exit code {proc.returncode}, expected {want}\n{out}"
    assert "Traceback" not in out and "panicked" not in out, f"{case}:\n{out}"
    assert str(BAD / case / spec.file) in out, f"{case}: output does not name the file:\n{out}"
