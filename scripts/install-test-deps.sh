#!/bin/sh
# Installs the system packages the test suite drives (each only when it is missing):
# tcpdump (oracle for `tuxnet tcpdump`), clang/llvm (BPF objects), iproute2 (network
# namespaces, veth, TAP), iputils-ping, netcat-openbsd and curl (live interop), iptables,
# nftables, conntrack and ipset (the netfilter harness of tests/netfilter/diff).
set -eu
need=""
command -v tcpdump >/dev/null 2>&1 || need="$need tcpdump"
command -v clang >/dev/null 2>&1 || need="$need clang llvm"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v ping >/dev/null 2>&1 || need="$need iputils-ping"
command -v nc >/dev/null 2>&1 || need="$need netcat-openbsd"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v iptables-nft-restore >/dev/null 2>&1 || need="$need iptables"
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v conntrack >/dev/null 2>&1 || need="$need conntrack"
command -v ipset >/dev/null 2>&1 || need="$need ipset"
if [ -n "$need" ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "installing system packages:$need"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi
