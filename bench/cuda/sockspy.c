// sockspy: an LD_PRELOAD probe for bench/cuda/nccl-fixed-cost.sh. It wraps send/recv (and
// sendto/recvfrom) on TCP sockets and records, with CLOCK_REALTIME stamps (comparable across the
// two ranks' processes on one machine):
//   S  a send that moved bytes            R  a receive that moved bytes
//   P  the first receive that found nothing (EAGAIN) after a receive that moved bytes: from here
//      on the caller was polling for the socket's next message
// so that a late message can be told apart: polled since P and delivered late (the kernel), or
// not asked for until R (the caller). Busy polls in between are not recorded, so the log stays
// small. Each record carries the socket's local and peer ports. Written at exit to
// $SOCKSPY_OUT.<pid> (default /tmp/sockspy.<pid>), one line per record:
//   <sec.nsec> <tid> <S|R|P> <local port> <peer port> <bytes>
// Build: cc -O2 -shared -fPIC -o sockspy.so bench/cuda/sockspy.c -ldl -lpthread
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORDS (1 << 20)
#define MAX_FDS 4096

struct rec {
  struct timespec t;
  int tid, fd, bytes;
  unsigned short lport, pport;
  char kind;
};

static struct rec recs[MAX_RECORDS];
static atomic_int nrec;
static atomic_char polling[MAX_FDS];  // 1 once a receive on the fd found nothing

static ssize_t (*real_send)(int, const void*, size_t, int);
static ssize_t (*real_recv)(int, void*, size_t, int);
static ssize_t (*real_sendto)(int, const void*, size_t, int, const struct sockaddr*, socklen_t);
static ssize_t (*real_recvfrom)(int, void*, size_t, int, struct sockaddr*, socklen_t*);

static unsigned short port_of(const struct sockaddr_storage* a) {
  if (a->ss_family == AF_INET) return ntohs(((const struct sockaddr_in*)a)->sin_port);
  if (a->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6*)a)->sin6_port);
  return 0;
}

static void record(char kind, int fd, ssize_t bytes) {
  int i = atomic_fetch_add(&nrec, 1);
  if (i >= MAX_RECORDS) return;
  struct rec* r = &recs[i];
  clock_gettime(CLOCK_REALTIME, &r->t);
  r->tid = (int)syscall(SYS_gettid);
  r->fd = fd;
  r->bytes = (int)bytes;
  r->kind = kind;
  struct sockaddr_storage a;
  socklen_t n = sizeof a;
  r->lport = getsockname(fd, (struct sockaddr*)&a, &n) == 0 ? port_of(&a) : 0;
  n = sizeof a;
  r->pport = getpeername(fd, (struct sockaddr*)&a, &n) == 0 ? port_of(&a) : 0;
}

static void after_send(int fd, ssize_t r) {
  if (r > 0) record('S', fd, r);
}

static void after_recv(int fd, ssize_t r, int err) {
  if (fd < 0 || fd >= MAX_FDS) return;
  if (r > 0) {
    record('R', fd, r);
    atomic_store(&polling[fd], 0);
  } else if (r < 0 && (err == EAGAIN || err == EWOULDBLOCK) && !atomic_exchange(&polling[fd], 1)) {
    record('P', fd, 0);
  }
}

ssize_t send(int fd, const void* b, size_t n, int f) {
  if (!real_send) real_send = dlsym(RTLD_NEXT, "send");
  ssize_t r = real_send(fd, b, n, f);
  int e = errno;
  after_send(fd, r);
  errno = e;
  return r;
}

ssize_t sendto(int fd, const void* b, size_t n, int f, const struct sockaddr* a, socklen_t l) {
  if (!real_sendto) real_sendto = dlsym(RTLD_NEXT, "sendto");
  ssize_t r = real_sendto(fd, b, n, f, a, l);
  int e = errno;
  after_send(fd, r);
  errno = e;
  return r;
}

ssize_t recv(int fd, void* b, size_t n, int f) {
  if (!real_recv) real_recv = dlsym(RTLD_NEXT, "recv");
  ssize_t r = real_recv(fd, b, n, f);
  int e = errno;
  after_recv(fd, r, e);
  errno = e;
  return r;
}

ssize_t recvfrom(int fd, void* b, size_t n, int f, struct sockaddr* a, socklen_t* l) {
  if (!real_recvfrom) real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
  ssize_t r = real_recvfrom(fd, b, n, f, a, l);
  int e = errno;
  after_recv(fd, r, e);
  errno = e;
  return r;
}

__attribute__((destructor)) static void dump(void) {
  const char* base = getenv("SOCKSPY_OUT");
  char path[512];
  snprintf(path, sizeof path, "%s.%d", base ? base : "/tmp/sockspy", (int)getpid());
  FILE* f = fopen(path, "w");
  if (!f) return;
  int n = atomic_load(&nrec);
  if (n > MAX_RECORDS) n = MAX_RECORDS;
  for (int i = 0; i < n; ++i)
    fprintf(f, "%ld.%09ld %d %c %u %u %d\n", (long)recs[i].t.tv_sec, recs[i].t.tv_nsec, recs[i].tid, recs[i].kind,
            recs[i].lport, recs[i].pport, recs[i].bytes);
  fclose(f);
}
