"""The verifier against PREVAIL's own test cases (bpf/prevail/test-data/*.yaml).

Selection — a case runs unless:
- it is in ``callx.yaml`` (``callx`` is not in Linux's instruction set);
- it sets an option that is a PREVAIL policy Linux does not have (``big_endian``,
  ``!allow_division_by_zero``, ``assume_assertions``, ``simplify``);
- its code uses what tuxnet has no counterpart for (legacy LD_ABS/LD_IND, PREVAIL's
  JNSET ``&==``, ``map_val``) or helpers outside tuxnet's prototype table
  (bpf_ringbuf_output, bpf_get_stack);
- its pre-state is not expressible as a Linux register state (relations between
  registers, registers of several possible types, stack outside the frame).

PREVAIL's verdict, in Linux terms: reject when it expects any message other than its
note that code became unreachable after an ``assume`` (Linux prunes dead branches
silently). Linux (as root, ``verify``'s default) is the reference; where it differs
from PREVAIL the case is listed in ``KNOWN_DIFFERENCES`` with the reason, and the
test expects Linux's verdict there.
"""

from __future__ import annotations

import pytest
from conftest import CONFORMANCE, need
from prevail_support import Case, TestMaps, Unsupported, assemble_code, entry_state, load_cases

from tuxnet.bpf.isa import OPCODE_CALL
from tuxnet.bpf.verifier import XDP, verify

DATA = CONFORMANCE / "bpf" / "prevail" / "test-data"
CASES = load_cases(DATA) if DATA.is_dir() else []
POLICY_OPTIONS = {"big_endian", "!allow_division_by_zero", "assume_assertions", "simplify"}
MODELLED_HELPERS = {1, 2, 3, 5, 6, 7, 8, 12}

_ALIGN = "Linux requires naturally aligned stack accesses (misaligned stack access)"
_DIV0 = "Linux rejects a constant zero divisor (div by zero)"
_SHIFT = "Linux rejects a constant shift outside 0..width-1 (invalid shift)"
_UNINIT_REG = "Linux rejects reading an uninitialised register, even to copy it (!read_ok)"
_CTX_SIZE = "xdp_md fields are read with 4-byte loads only (invalid bpf_context access)"
_MOV32_PTR = "root may copy the low half of a pointer (without CAP_PERFMON: partial copy)"
_PATHS = "Linux verifies each path separately; PREVAIL joins them and loses precision"
_LEAKS = "root may compare, subtract, return and store pointers (allow_ptr_leaks)"
_R0_CALL = "a subprogram gets r1-r5 only; r0 is not initialised in the callee"

KNOWN_DIFFERENCES: dict[str, str] = {
    "assign.yaml::16-bit indirect assignment from context": _CTX_SIZE,
    "assign.yaml::64-bit indirect assignment from context": _CTX_SIZE,
    **{f"assign.yaml::32-bit assign register {k} value": _MOV32_PTR
       for k in ("stack", "shared", "packet", "context", "map", "map programs")},
    "pointer.yaml::32-bit return context pointer": _MOV32_PTR,
    "pointer.yaml::64-bit return context pointer": _LEAKS,
    **{f"atomic.yaml::atomic 64-bit {op} stack": _ALIGN
       for op in ("ADD", "ADD and fetch", "AND", "AND and fetch", "OR", "OR and fetch",
                  "XOR", "XOR and fetch", "XCHG", "CMPXCHG")},
    "atomic.yaml::atomic 64-bit CMPXCHG comparing against non-number": _LEAKS,
    "stack.yaml::stack re-assign little-endian immediate middle": _ALIGN,
    "uninit.yaml::Read uninitialized stack range - unaligned": _ALIGN,
    **{f"{f}.yaml::{a} {b} zero immediate": _DIV0 for f in ("sdivmod", "udivmod")
       for a in ("non-zero", "zero") for b in ("divided by", "modulo")},
    **{f"shift.yaml::{w}-bit {k} shift singleton by {v} imm": _SHIFT
       for w in ("32", "64") for k in ("unsigned right", "signed right", "left")
       for v in ("negative", "high")},
    "calllocal.yaml::call local with multiple calls": _R0_CALL,
    "calllocal.yaml::call local with multiple branches": _R0_CALL,
    "calllocal.yaml::jump within a subfunction": "Linux rejects unreachable instructions",
    "calllocal.yaml::jump out of a subfunction": "a jump may not leave its subprogram",
    "call.yaml::bpf_map_update_elem with non-numeric stack value":
        "root may pass uninitialised stack to a helper (allow_uninit_stack)",
    "jump.yaml::multiple types add fail": _PATHS,
    "jump.yaml::lost implications in correlated branches": _PATHS,
    "jump.yaml::assume map_fd1 < map_fd2": _LEAKS,
    "subtract.yaml::disallow subtraction of shared pointers": _LEAKS,
    "subtract.yaml::disallow subtraction of pointer from invalid pointer to a singleton "
    "region": _LEAKS,
    "loop.yaml::realistic forward loop":
        "Linux does not relate a scalar (data_end - data) to packet bounds",
    "packet.yaml::simple valid access": _UNINIT_REG,
    "stack.yaml::havoc numeric size": _UNINIT_REG,
    "stack.yaml::shorten numeric size from int64* to int32*": _UNINIT_REG,
    "stack.yaml::havoc if clobber stack bytes": _UNINIT_REG,
    "uninit.yaml::MOV of a number and an uninitialized register": _UNINIT_REG,
}


def unsupported(case: Case) -> str | None:
    """Why a case is left out, or None if it runs."""
    if case.file == "callx.yaml":
        return "callx is not in Linux's instruction set"
    policy = POLICY_OPTIONS & set(case.options)
    if policy:
        return f"PREVAIL-only option {sorted(policy)}"
    try:
        insns = assemble_code(case.code)
        entry_state(case.pre)
    except Unsupported as e:
        return str(e)
    calls = {i.imm for i in insns if i.opcode == OPCODE_CALL and i.src == 0}
    if calls - MODELLED_HELPERS:
        return f"helpers without a tuxnet prototype: {sorted(calls - MODELLED_HELPERS)}"
    return None


def linux_rejects(case: Case) -> bool:
    return case.expect_reject != (case.id in KNOWN_DIFFERENCES)


_RESULTS: dict[int, tuple[bool, str]] = {}


def run(case: Case) -> tuple[bool, str]:
    """Verify one case (once: the summary reuses the per-case results)."""
    if id(case) not in _RESULTS:
        regs, stack = entry_state(case.pre)
        r = verify(assemble_code(case.code), XDP, maps=TestMaps(), entry=regs,
                   entry_stack=stack, insn_limit=100_000)
        _RESULTS[id(case)] = (r.ok, r.message)
    return _RESULTS[id(case)]


def _ids(cases: list[Case]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for c in cases:
        n = seen.get(c.id, 0)
        seen[c.id] = n + 1
        out.append(c.id if n == 0 else f"{c.id}#{n + 1}")
    return out


@pytest.mark.parametrize("case", CASES or [None], ids=_ids(CASES) if CASES else ["missing"])
def test_prevail_case(case: Case | None) -> None:
    need(case is not None, f"PREVAIL test data not found at {DATA} (set TUXNET_CONFORMANCE)")
    assert case is not None
    why = unsupported(case)
    if why is not None:
        pytest.skip(f"not selected: {why}")
    ok, message = run(case)
    if linux_rejects(case):
        assert not ok, f"accepted; PREVAIL expects {case.messages}"
    else:
        assert ok, f"rejected with {message!r}"


def test_prevail_agreement_summary(capsys: pytest.CaptureFixture[str]) -> None:
    need(bool(CASES), f"PREVAIL test data not found at {DATA}")
    selected = [c for c in CASES if unsupported(c) is None]
    agree = sum(run(c)[0] != c.expect_reject for c in selected)
    known = [c for c in selected if c.id in KNOWN_DIFFERENCES]
    with capsys.disabled():
        print(f"\nPREVAIL: {len(CASES)} cases, {len(selected)} selected, {agree} agree with "
              f"PREVAIL's verdict, {len(known)} known differences (Linux is the reference)")
    assert len(CASES) >= 690 and len(selected) >= 550
    assert agree == len(selected) - len(known)  # every disagreement is a listed one
    assert {c.id for c in known} == set(KNOWN_DIFFERENCES)  # and every listed one is real
