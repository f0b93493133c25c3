"""eBPF for tuxnet: the instruction set (RFC 9669), assembler, disassembler, interpreter.

Modules: ``isa`` (encoding, opcode table, validation), ``program`` (structural load
checks), ``asm``/``disasm`` (the conformance ``.data`` syntax), ``memory`` (the flat
region address space), ``helpers`` (helper contract, uBPF test helpers), ``interp``
(the interpreter), ``engine`` (what every execution engine provides), ``conformance``
(the bpf_conformance runner).
"""
