/*
 * mt-standin: the harmless program that plays every planted process in a minetrace sandbox.
 *
 * It is never a miner. A "miner" is this program copied to a scenario path and started under a miner-like
 * argv[0], comm and arguments; it holds a TCP connection to a fake pool on a 127.x.y.z address, may spin a
 * few hundred milliseconds of CPU, start idle threads, listen, spawn its scenario children and respawn a
 * watched peer (watchdog pairs). It is written in C so that the copies planted in a scenario, and copied
 * into bundles by the collector, stay a few KiB.
 *
 * Modes, chosen by how it is started:
 *   - with a spec on fd 3 (the launcher and scenario processes start it so): become scenario process SELF.
 *   - `mt-standin launch ROOT`    (spec on stdin): chroot to ROOT, start the top-level scenario processes,
 *                                  wait until every process (children included) reported ready, print
 *                                  `ready ID PID` lines and exit.
 *   - `mt-standin pool ADDR...`   fake pool: listen on each IP:PORT, answer every line with a stratum-like
 *                                  job, exit when stdin reaches EOF (the harness went away).
 *   - `mt-standin enter ROOT ARGV0 ARG...`: chroot to ROOT and execute the program open on fd 3 (outside
 *                                  ROOT), so the collector runs inside the sandbox without being a file in it.
 *   - anything else: sleep forever (a copy started by cron or a unit file in a later step).
 *
 * Spec (text, one directive per line, byte strings hex-encoded):
 *   proc ID | exe HEX | arg HEX | comm HEX | uid N | gid N | cwd HEX | parent ID | connect IP PORT |
 *   peer IP PORT | listen IP PORT | threads N | burn MS | watch ID | env HEX | nice N | real 0/1 | root HEX |
 *   load HEX | end
 *   then `self ID`, and for a respawned process `watchpid PID` and `adopt ID PID`.
 *   `root DIR`: the process runs chrooted into DIR (a container or chroot); its exe and cwd are paths inside
 *   it. A child spawned by a process already in that root is not chrooted again.
 *   `load PATH`: a shared object the process maps with dlopen before it reports ready (a Redis module).
 *   `peer IP PORT`: a further connection held besides `connect`, with nothing written on it (a node's peers).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXP 64
#define MAXA 48
#define MAXFD 64
#define MAXPEERS 16
#define SPEC_FD 3
#define STATUS_FD 4

struct proc {
    char id[64];
    char *exe;
    char *argv[MAXA + 1];
    int argc;
    char *comm;
    int uid, gid;
    char *cwd;
    char *root;
    char parent[64];
    char connect_ip[64];
    int connect_port;
    char peer_ip[MAXPEERS][64];
    int peer_port[MAXPEERS];
    int npeers;
    char listen_ip[64];
    int listen_port;
    int threads;
    int burn_ms;
    char watch[64];
    char *env[MAXA + 1];
    int envc;
    int nice;
    int real;
    char *load[MAXA + 1];
    int loadc;
};

static struct proc procs[MAXP];
static int nprocs;
static char *spec_text;       /* the spec as received, passed on to children */
static size_t spec_len;
static int self_ix = -1;
static pid_t watch_pid;        /* pid of the watched peer when it is the parent */
static unsigned long long watch_start;
static int status_fd = -1;

static void die(const char *what) {
    dprintf(2, "mt-standin: %s: %s\n", what, strerror(errno));
    _exit(111);
}

static int unhex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *hexdup(const char *h) {
    size_t n = strlen(h) / 2;
    char *out = malloc(n + 1);
    if (!out) die("malloc");
    for (size_t i = 0; i < n; i++) {
        int a = unhex(h[2 * i]), b = unhex(h[2 * i + 1]);
        if (a < 0 || b < 0) { n = i; break; }
        out[i] = (char)(a * 16 + b);
    }
    out[n] = 0;
    return out;
}

static int find(const char *id) {
    for (int i = 0; i < nprocs; i++)
        if (strcmp(procs[i].id, id) == 0) return i;
    return -1;
}

static char adopt_id[64];
static pid_t adopt_pid;

static void parse_spec(char *text) {
    struct proc *p = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char key[16], a[4096], b[64];
        a[0] = b[0] = 0;
        if (sscanf(line, "%15s %4095s %63s", key, a, b) < 1) continue;
        if (strcmp(key, "proc") == 0) {
            if (nprocs >= MAXP) { errno = E2BIG; die("too many processes"); }
            p = &procs[nprocs++];
            memset(p, 0, sizeof *p);
            snprintf(p->id, sizeof p->id, "%s", a);
            p->uid = p->gid = -1;
        } else if (strcmp(key, "self") == 0) {
            self_ix = find(a);
        } else if (strcmp(key, "watchpid") == 0) {
            watch_pid = (pid_t)atoi(a);
        } else if (strcmp(key, "adopt") == 0) {
            snprintf(adopt_id, sizeof adopt_id, "%s", a);
            adopt_pid = (pid_t)atoi(b);
        } else if (!p) {
            continue;
        } else if (strcmp(key, "exe") == 0) p->exe = hexdup(a);
        else if (strcmp(key, "arg") == 0 && p->argc < MAXA) p->argv[p->argc++] = hexdup(a);
        else if (strcmp(key, "comm") == 0) p->comm = hexdup(a);
        else if (strcmp(key, "uid") == 0) p->uid = atoi(a);
        else if (strcmp(key, "gid") == 0) p->gid = atoi(a);
        else if (strcmp(key, "cwd") == 0) p->cwd = hexdup(a);
        else if (strcmp(key, "root") == 0) p->root = hexdup(a);
        else if (strcmp(key, "parent") == 0) snprintf(p->parent, sizeof p->parent, "%s", a);
        else if (strcmp(key, "connect") == 0) { snprintf(p->connect_ip, 64, "%s", a); p->connect_port = atoi(b); }
        else if (strcmp(key, "peer") == 0 && p->npeers < MAXPEERS) {
            snprintf(p->peer_ip[p->npeers], 64, "%s", a);
            p->peer_port[p->npeers++] = atoi(b);
        }
        else if (strcmp(key, "listen") == 0) { snprintf(p->listen_ip, 64, "%s", a); p->listen_port = atoi(b); }
        else if (strcmp(key, "threads") == 0) p->threads = atoi(a);
        else if (strcmp(key, "burn") == 0) p->burn_ms = atoi(a);
        else if (strcmp(key, "watch") == 0) snprintf(p->watch, sizeof p->watch, "%s", a);
        else if (strcmp(key, "env") == 0 && p->envc < MAXA) p->env[p->envc++] = hexdup(a);
        else if (strcmp(key, "nice") == 0) p->nice = atoi(a);
        else if (strcmp(key, "real") == 0) p->real = atoi(a);
        else if (strcmp(key, "load") == 0 && p->loadc < MAXA) p->load[p->loadc++] = hexdup(a);
    }
}

static char *read_all(int fd, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) die("malloc");
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            if (!buf) die("realloc");
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read spec");
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Start time (field 22 of /proc/PID/stat), 0 when the process is gone or a zombie. */
static unsigned long long start_of(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    if (!s) return 0;
    char state = 0;
    unsigned long long start = 0;
    /* after ") ": state(3) ... starttime(22) */
    s += 2;
    state = *s;
    if (state == 'Z' || state == 'X') return 0;
    int field = 3;
    for (char *c = s; *c && field < 22; c++)
        if (*c == ' ') field++, s = c + 1;
    start = strtoull(s, NULL, 10);
    return start ? start : 1;
}

static int high(int fd);

/* Forks and executes scenario process IX with the spec on fd 3. Returns the pid, or -1. The child is
 * running the new image (or real binary) when this returns. */
static pid_t spawn(int ix, pid_t watchpid, const char *adopt, pid_t adoptpid) {
    struct proc *p = &procs[ix];
    int specp[2], errp[2];
    if (pipe2(specp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) return -1;
    specp[0] = high(specp[0]);
    specp[1] = high(specp[1]);
    errp[0] = high(errp[0]);
    errp[1] = high(errp[1]);
    if (specp[0] < 0 || specp[1] < 0 || errp[0] < 0 || errp[1] < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int err;
        setsid();
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
        if (!p->real) {
            if (dup2(specp[0], SPEC_FD) < 0) goto fail;
        } else {
            close(SPEC_FD);
        }
        if (status_fd >= 0 && !p->real) {
            if (dup2(status_fd, STATUS_FD) < 0) goto fail;
        } else {
            close(STATUS_FD);
        }
        for (int fd = 5; fd < 1024; fd++)
            if (fd != errp[1]) close(fd);
        if (p->nice) { errno = 0; if (setpriority(PRIO_PROCESS, 0, p->nice) < 0 && errno) goto fail; }
        /* Its own root, unless the spawning process already runs in it. */
        if (p->root && !(self_ix >= 0 && procs[self_ix].root && strcmp(procs[self_ix].root, p->root) == 0)) {
            if (chroot(p->root) < 0 || chdir("/") < 0) goto fail;
        }
        if (p->cwd && chdir(p->cwd) < 0) goto fail;
        if (getuid() == 0) {
            if (p->gid >= 0 && (setgroups(0, NULL) < 0 || setgid((gid_t)p->gid) < 0)) goto fail;
            if (p->uid >= 0 && setuid((uid_t)p->uid) < 0) goto fail;
        } else if (p->uid >= 0 && (uid_t)p->uid != getuid()) {
            errno = EPERM; /* an unprivileged parent cannot start a child as another user */
            goto fail;
        }
        char *argv[MAXA + 1];
        for (int i = 0; i < p->argc; i++) argv[i] = p->argv[i];
        argv[p->argc] = NULL;
        /* A writer elsewhere (a thread of the harness forking) can hold the file open for a moment. */
        for (int attempt = 0; attempt < 100; attempt++) {
            execve(p->exe, argv, p->env);
            if (errno != ETXTBSY) break;
            usleep(20000);
        }
    fail:
        err = errno;
        (void)!write(errp[1], &err, sizeof err);
        _exit(127);
    }
    close(specp[0]);
    close(errp[1]);
    if (!p->real) {
        /* The spec fits the pipe buffer (checked by the harness); write it, then who we are. */
        char tail[256];
        int n = snprintf(tail, sizeof tail, "\nself %s\n", p->id);
        (void)!write(specp[1], spec_text, spec_len);
        (void)!write(specp[1], tail, (size_t)n);
        if (watchpid > 0) {
            n = snprintf(tail, sizeof tail, "watchpid %d\n", (int)watchpid);
            (void)!write(specp[1], tail, (size_t)n);
        }
        if (adopt && adopt[0]) {
            n = snprintf(tail, sizeof tail, "adopt %s %d\n", adopt, (int)adoptpid);
            (void)!write(specp[1], tail, (size_t)n);
        }
    }
    close(specp[1]);
    int err = 0;
    ssize_t r;
    do r = read(errp[0], &err, sizeof err); while (r < 0 && errno == EINTR);
    close(errp[0]);
    if (r > 0) {
        waitpid(pid, NULL, 0);
        errno = err;
        return -1;
    }
    return pid;
}

/* Moves a descriptor to 10 or above (close-on-exec), clear of the spec and status slots 3 and 4. */
static int high(int fd) {
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return h;
}

static void report(const char *line) {
    if (status_fd >= 0) (void)!write(status_fd, line, strlen(line));
}

static void *idle_thread(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

static void burn(int ms) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile unsigned long x = 0;
    for (;;) {
        for (int i = 0; i < 100000; i++) x += (unsigned long)i * 2654435761u;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= ms) break;
    }
}

static int tcp_socket(const char *ip, int port, struct sockaddr_in *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) { errno = EINVAL; return -1; }
    /* Loopback only: a stand-in never talks to anything else. */
    if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127) { errno = EPERM; return -1; }
    return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int do_listen(const char *ip, int port) {
    struct sockaddr_in sa;
    int fd = tcp_socket(ip, port, &sa);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) { close(fd); return -1; }
    return fd;
}

static int do_connect(const char *ip, int port) {
    for (int attempt = 0; attempt < 100; attempt++) {
        struct sockaddr_in sa;
        int fd = tcp_socket(ip, port, &sa);
        if (fd < 0) return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
        close(fd);
        usleep(50000);
    }
    return -1;
}

static struct pollfd pfds[MAXFD];
static int listening[MAXFD];
static int npfds;

static void add_fd(int fd, int is_listener) {
    if (npfds < MAXFD) {
        pfds[npfds].fd = fd;
        pfds[npfds].events = POLLIN;
        listening[npfds] = is_listener;
        npfds++;
    } else {
        close(fd);
    }
}

static const char POOL_JOB[] =
    "{\"id\":1,\"jsonrpc\":\"2.0\",\"error\":null,\"result\":{\"id\":\"standin\",\"job\":"
    "{\"blob\":\"00\",\"job_id\":\"1\",\"target\":\"ffffffff\"},\"status\":\"OK\"}}\n";

/* Serves accepted connections: the pool answers lines; a scenario listener just holds them. */
static void serve(int timeout_ms, int answer) {
    int n = poll(pfds, (nfds_t)npfds, timeout_ms);
    if (n <= 0) return;
    for (int i = 0; i < npfds; i++) {
        if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        if (listening[i]) {
            int c = accept4(pfds[i].fd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) add_fd(c, 0);
        } else if (pfds[i].fd == 0) {
            char buf[256];
            if (read(0, buf, sizeof buf) <= 0) _exit(0);
        } else {
            char buf[4096];
            ssize_t r = read(pfds[i].fd, buf, sizeof buf);
            if (r <= 0) {
                close(pfds[i].fd);
                pfds[i] = pfds[npfds - 1];
                listening[i] = listening[npfds - 1];
                npfds--;
                i--;
            } else if (answer && memchr(buf, '\n', (size_t)r)) {
                (void)!write(pfds[i].fd, POOL_JOB, sizeof POOL_JOB - 1);
            }
        }
    }
}

static int run_pool(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    for (int i = 2; i < argc; i++) {
        char ip[64];
        snprintf(ip, sizeof ip, "%s", argv[i]);
        char *colon = strrchr(ip, ':');
        if (!colon) { dprintf(2, "mt-standin pool: expected IP:PORT, got %s\n", argv[i]); return 2; }
        *colon = 0;
        int fd = do_listen(ip, atoi(colon + 1));
        if (fd < 0) { dprintf(2, "mt-standin pool: listen %s: %s\n", argv[i], strerror(errno)); return 1; }
        add_fd(fd, 1);
    }
    add_fd(0, 0);
    printf("listening\n");
    fflush(stdout);
    for (;;) serve(1000, 1);
}

/* chroot to ROOT and execute the program open on fd 3 (it lives outside ROOT) as ARGV0 ARG... */
static int run_enter(int argc, char **argv) {
    if (argc < 4) { dprintf(2, "usage: mt-standin enter ROOT ARGV0 ARG... (program on fd 3)\n"); return 2; }
    if (fcntl(SPEC_FD, F_SETFD, FD_CLOEXEC) < 0) die("fd 3 (the program to run)");
    if (chroot(argv[2]) < 0 || chdir("/") < 0) die("chroot");
    /* Its own session inside the sandbox, as a responder's login shell would give it (a process group
     * that lives outside the PID namespace shows as pgid 0). */
    setsid();
    syscall(SYS_execveat, SPEC_FD, "", &argv[3], environ, AT_EMPTY_PATH);
    die("execveat");
    return 127;
}

static int run_launch(int argc, char **argv) {
    if (argc < 3) { dprintf(2, "usage: mt-standin launch ROOT < spec\n"); return 2; }
    spec_text = read_all(0, &spec_len);
    char *copy = strdup(spec_text);
    if (!copy) die("strdup");
    parse_spec(copy);
    if (chroot(argv[2]) < 0 || chdir("/") < 0) die("chroot");
    int st[2];
    if (pipe2(st, O_CLOEXEC) < 0) die("pipe");
    st[0] = high(st[0]);
    status_fd = high(st[1]);
    if (st[0] < 0 || status_fd < 0) die("pipe");
    int ready = 0;
    for (int i = 0; i < nprocs; i++) {
        if (procs[i].parent[0]) continue;
        pid_t pid = spawn(i, 0, NULL, 0);
        if (pid < 0) {
            dprintf(2, "mt-standin launch: cannot start %s: %s\n", procs[i].id, strerror(errno));
            return 1;
        }
        if (procs[i].real) {
            printf("ready %.63s %d\n", procs[i].id, (int)pid);
            ready++;
        }
    }
    /* Every stand-in holds the status pipe until it reported; EOF means all have. */
    close(status_fd);
    status_fd = -1;
    char line[4096];
    size_t used = 0;
    struct pollfd pf = {.fd = st[0], .events = POLLIN};
    for (;;) {
        if (poll(&pf, 1, 20000) <= 0) {
            dprintf(2, "mt-standin launch: timed out waiting for processes to be ready\n");
            return 1;
        }
        ssize_t r = read(st[0], line + used, sizeof line - 1 - used);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        used += (size_t)r;
        char *nl;
        while ((nl = memchr(line, '\n', used))) {
            size_t len = (size_t)(nl - line) + 1;
            fwrite(line, 1, len, stdout);
            if (strncmp(line, "error ", 6) == 0) {
                fflush(stdout);
                return 1;
            }
            if (strncmp(line, "ready ", 6) == 0) ready++;
            memmove(line, nl + 1, used - len);
            used -= len;
        }
    }
    fflush(stdout);
    if (ready != nprocs) {
        dprintf(2, "mt-standin launch: %d of %d processes reported ready (one exited early?)\n", ready, nprocs);
        return 1;
    }
    return 0;
}

struct child { int ix; pid_t pid; unsigned long long start; };

static int run_self(void) {
    struct proc *p = &procs[self_ix];
    char msg[256];
    signal(SIGPIPE, SIG_IGN);
    if (p->comm) prctl(PR_SET_NAME, p->comm, 0, 0, 0);
    for (int i = 0; i < p->loadc; i++) {
        if (!dlopen(p->load[i], RTLD_NOW | RTLD_GLOBAL)) {
            snprintf(msg, sizeof msg, "error %s load %.100s: %.100s\n", p->id, p->load[i], dlerror());
            report(msg);
            _exit(1);
        }
    }
    if (p->burn_ms > 0) burn(p->burn_ms);
    for (int i = 0; i < p->threads; i++) {
        pthread_t t;
        pthread_create(&t, NULL, idle_thread, NULL);
    }
    if (p->listen_port) {
        int fd = do_listen(p->listen_ip, p->listen_port);
        if (fd < 0) {
            snprintf(msg, sizeof msg, "error %s listen %s:%d: %s\n", p->id, p->listen_ip, p->listen_port, strerror(errno));
            report(msg);
            _exit(1);
        }
        add_fd(fd, 1);
    }
    if (p->connect_port) {
        int fd = do_connect(p->connect_ip, p->connect_port);
        if (fd < 0) {
            snprintf(msg, sizeof msg, "error %s connect %s:%d: %s\n", p->id, p->connect_ip, p->connect_port, strerror(errno));
            report(msg);
            _exit(1);
        }
        static const char login[] =
            "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"standin\","
            "\"pass\":\"x\",\"agent\":\"minetrace-standin/1\"}}\n";
        (void)!write(fd, login, sizeof login - 1);
        add_fd(fd, 0);
    }
    for (int i = 0; i < p->npeers; i++) {
        int fd = do_connect(p->peer_ip[i], p->peer_port[i]);
        if (fd < 0) {
            snprintf(msg, sizeof msg, "error %s peer %s:%d: %s\n", p->id, p->peer_ip[i], p->peer_port[i], strerror(errno));
            report(msg);
            _exit(1);
        }
        add_fd(fd, 0);
    }
    /* Children of this process, started now, reporting on the inherited status pipe themselves. */
    struct child kids[MAXP];
    int nkids = 0;
    for (int i = 0; i < nprocs; i++) {
        if (strcmp(procs[i].parent, p->id) != 0) continue;
        pid_t pid;
        if (adopt_id[0] && strcmp(adopt_id, procs[i].id) == 0) {
            pid = adopt_pid;
        } else {
            pid = spawn(i, getpid(), NULL, 0);
            if (pid < 0) {
                snprintf(msg, sizeof msg, "error %s spawn %s: %s\n", p->id, procs[i].id, strerror(errno));
                report(msg);
                _exit(1);
            }
            if (procs[i].real) {
                snprintf(msg, sizeof msg, "ready %.63s %d\n", procs[i].id, (int)pid);
                report(msg);
            }
        }
        kids[nkids].ix = i;
        kids[nkids].pid = pid;
        kids[nkids].start = start_of(pid);
        nkids++;
    }
    snprintf(msg, sizeof msg, "ready %.63s %d\n", p->id, (int)getpid());
    report(msg);
    if (status_fd >= 0) { close(status_fd); status_fd = -1; }

    /* Watched parent: respawned when it disappears, told to adopt us instead of starting a new us. */
    int parent_ix = p->parent[0] ? find(p->parent) : -1;
    int watches_parent = parent_ix >= 0 && strcmp(p->watch, p->parent) == 0;
    if (watches_parent) {
        if (watch_pid <= 0) watch_pid = getppid();
        watch_start = start_of(watch_pid);
    }
    for (;;) {
        serve(200, 0);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        for (int k = 0; k < nkids; k++) {
            if (strcmp(p->watch, procs[kids[k].ix].id) != 0) continue;
            if (start_of(kids[k].pid) == kids[k].start && kids[k].start) continue;
            pid_t pid = spawn(kids[k].ix, getpid(), NULL, 0);
            if (pid > 0) { kids[k].pid = pid; kids[k].start = start_of(pid); }
        }
        if (watches_parent && start_of(watch_pid) != watch_start) {
            pid_t pid = spawn(parent_ix, 0, p->id, getpid());
            if (pid > 0) { watch_pid = pid; watch_start = start_of(pid); }
        }
    }
}

int main(int argc, char **argv) {
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (strcmp(base, "mt-standin") == 0 && argc >= 2) {
        if (strcmp(argv[1], "pool") == 0) return run_pool(argc, argv);
        if (strcmp(argv[1], "launch") == 0) return run_launch(argc, argv);
        if (strcmp(argv[1], "enter") == 0) return run_enter(argc, argv);
    }
    if (fcntl(SPEC_FD, F_GETFD) >= 0) {
        size_t len;
        spec_text = read_all(SPEC_FD, &len);
        spec_len = len;
        close(SPEC_FD);
        if (fcntl(STATUS_FD, F_GETFD) >= 0) status_fd = STATUS_FD;
        /* Children get the spec without our own `self`/`watchpid`/`adopt` lines. */
        char *mark = strstr(spec_text, "\nself ");
        char *copy = strdup(spec_text);
        if (!copy) die("strdup");
        parse_spec(copy);
        if (mark) spec_len = (size_t)(mark - spec_text);
        if (self_ix >= 0) return run_self();
    }
    /* A copy started some other way (cron, a unit file): idle like a daemon. */
    for (;;) pause();
}
