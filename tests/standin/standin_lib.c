/*
 * libstandin.so: the harmless shared object a scenario names in /etc/ld.so.preload (or LD_PRELOAD) where a
 * real campaign would put a process-hiding library. It hides nothing and does nothing; it only makes the
 * preload real, so every dynamically linked process maps it, as on an infected host.
 */
int minetrace_standin_preload_marker(void) { return 0; }
