"""eBPF for tuxnet: the instruction set (RFC 9669), assembler, disassembler, interpreter,
verifier, maps and helpers.

Modules: ``isa`` (encoding, opcode table, validation), ``program`` (structural load
checks), ``asm``/``disasm`` (the conformance ``.data`` syntax), ``kdisasm`` (the kernel
log's syntax), ``memory`` (the flat region address space), ``helpers`` (helper
contract, uBPF test helpers), ``interp`` (the interpreter), ``engine`` (what every
execution engine provides), ``conformance`` (the bpf_conformance runner), ``verifier``
(the kernel-style verifier), ``maps`` (array, hash, LRU, LPM trie, per-CPU and redirect
maps), ``kernel_helpers``/``trace`` (helpers with the kernel's numbering,
bpf_trace_printk), ``runtime`` (maps and programs by fd, helpers bound to a CPU, clock
and random source).
"""
