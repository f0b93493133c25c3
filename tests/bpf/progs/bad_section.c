/* Refused by tuxnet's loader: a program type tuxnet does not run (kprobe). */
#include "tuxnet_bpf.h"

SEC("kprobe/tcp_v4_rcv")
int probe(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "Dual MIT/GPL";
